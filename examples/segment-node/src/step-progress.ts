// How `finetune` shows its steps: every step's loss as one line (on stdout when it is not a terminal, so a
// log or a pipe keeps the whole curve), and on a terminal a cli-progress bar under those lines with the
// step, the latest loss and steps/s. There the lines go through the bar's own log() so they scroll above it
// instead of tearing it.
import cliProgress from 'cli-progress';

export class StepProgress {
  private readonly bar: cliProgress.MultiBar | undefined;
  private readonly single: cliProgress.SingleBar | undefined;
  private readonly start = performance.now();

  constructor(private readonly steps: number) {
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.MultiBar(
        { format: 'training {bar} {value}/{total} | loss {loss} | {rate} steps/s', hideCursor: true, clearOnComplete: false, barsize: 30, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.single = this.bar.create(steps, 0, { loss: '-', rate: '0.00' });
    }
  }

  step(step: number, loss: number): void {
    const width = String(this.steps).length;
    const line = `  step ${String(step).padStart(width)}/${this.steps}  loss ${loss.toFixed(4)}`;
    const rate = (step / ((performance.now() - this.start) / 1000)).toFixed(2);
    if (this.bar && this.single) {
      this.bar.log(`${line}\n`);
      this.single.update(step, { loss: loss.toFixed(4), rate });
      // A step blocks the event loop, so the bar's redraw timer never fires between steps: redraw now
      // (this also writes the logged line).
      this.bar.update();
    } else {
      process.stdout.write(`${line}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
