// The module every worker of a pool runs by default (a module Worker in browsers, a worker_threads Worker in
// Node). It carries nothing but the service, so that what ships is what runs in production.
import { serveWorker } from './worker-service.js';

serveWorker();
