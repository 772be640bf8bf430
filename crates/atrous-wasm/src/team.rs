//! A team of threads over one shared memory: the caller's instance and `helpers` more instances of the same
//! module, each in its own worker, each with its own stack. Helpers sit in `atrous_team_serve` (blocking
//! on an atomic, never on a message) and take pieces of whatever job the caller publishes; the caller works
//! on the same job and returns when every piece is done. No postMessage per op: one atomic bump wakes them.
//!
//! A team is a handle, never a global: exports that split work take it as an argument (0 runs serially).
//! Only shared-memory builds (built with `--cfg atrous_threads` beside `+atomics`, whose cfg stable Rust
//! does not expose) make teams; elsewhere `atrous_team_create` says `Unsupported`.
//!
//! Protocol. `claim` packs (generation << 32 | next piece) so a helper that wakes late for an old job can
//! never take a piece of a newer one: its compare-exchange fails as soon as the generation moved on. A job
//! stays published until `done` reaches its piece count, which needs every claimed piece finished, so a
//! helper that holds a claim may always read the job. A helper that dies (its worker killed) is reported
//! by the JavaScript that owns the workers through `crashed` (a bit per helper): the caller then waits
//! only for the living helpers to leave the job and fails it with `WorkerCrashed`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use atrous_kernels::parallel::{Job, Parallel};
use atrous_kernels::Status;

use crate::memory::{free_handle, try_box};

/// Most helpers a team may have: `crashed` keeps one bit per helper.
pub const MAX_HELPERS: usize = 31;
/// Spins before a waiting helper sleeps on the generation word. Ops in a model follow each other within
/// microseconds; a helper still spinning picks the next job up without the cost of a wake-up.
const SPINS_BEFORE_SLEEP: u32 = 1 << 16;

type JobPtr = *const (dyn Fn(usize) + Sync + 'static);

pub struct Team {
    helpers: usize,
    /// Threads (caller included) the next jobs use, 1..=helpers + 1.
    width: AtomicU32,
    /// Bumped to publish a job; helpers wait on it.
    generation: AtomicU32,
    claim: AtomicU64,
    pieces: AtomicU32,
    done: AtomicU32,
    job: UnsafeCell<Option<JobPtr>>,
    /// Per helper: the generation it is working on, 0 when outside any job.
    working: [AtomicU32; MAX_HELPERS],
    /// Bit i: helper i died (written by the JavaScript side).
    crashed: AtomicU32,
    shutdown: AtomicU32,
    /// Where helpers sleep between jobs. std's Condvar is a futex on `memory.atomic.wait32` in a
    /// shared-memory build (stable Rust does not expose the instruction itself).
    sleep: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only by the caller while no helper may read it (between jobs, see the protocol)
// and read only under a claim of the current generation.
unsafe impl Sync for Team {}

impl Team {
    fn new(helpers: usize) -> Team {
        Team {
            helpers,
            width: AtomicU32::new(helpers as u32 + 1),
            generation: AtomicU32::new(0),
            claim: AtomicU64::new(0),
            pieces: AtomicU32::new(0),
            done: AtomicU32::new(0),
            job: UnsafeCell::new(None),
            working: [const { AtomicU32::new(0) }; MAX_HELPERS],
            crashed: AtomicU32::new(0),
            shutdown: AtomicU32::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Takes and runs pieces of job `generation` until none is left.
    fn work(&self, generation: u32) {
        loop {
            let claim = self.claim.load(Ordering::Acquire);
            if (claim >> 32) as u32 != generation {
                return;
            }
            let piece = claim as u32;
            if piece >= self.pieces.load(Ordering::Acquire) {
                return;
            }
            if self.claim.compare_exchange_weak(claim, claim + 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                continue;
            }
            // SAFETY: a claim of the current generation keeps the job published (see the protocol).
            let job = unsafe { (*self.job.get()).expect("a published job") };
            unsafe { (*job)(piece as usize) };
            self.done.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The helper loop: waits for jobs, works on them, returns at shutdown.
    fn serve(&self, index: usize) {
        let mut seen = self.generation.load(Ordering::Acquire);
        loop {
            let mut spins = 0;
            let generation = loop {
                if self.shutdown.load(Ordering::Acquire) != 0 {
                    return;
                }
                let g = self.generation.load(Ordering::Acquire);
                if g != seen {
                    break g;
                }
                if spins < SPINS_BEFORE_SLEEP {
                    spins += 1;
                    core::hint::spin_loop();
                } else {
                    // Checked again under the lock, which `wake_helpers` takes before notifying: no lost wake-up.
                    let guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
                    if self.generation.load(Ordering::Acquire) == seen && self.shutdown.load(Ordering::Acquire) == 0 {
                        drop(self.wake.wait(guard));
                    }
                }
            };
            seen = generation;
            if index + 1 < self.width.load(Ordering::Acquire) as usize {
                self.working[index].store(generation, Ordering::Release);
                // Re-check after announcing: the caller may have finished the job in between.
                self.work(generation);
                self.working[index].store(0, Ordering::Release);
            }
        }
    }
}

impl Parallel for Team {
    fn width(&self) -> usize {
        self.width.load(Ordering::Relaxed) as usize
    }

    fn run(&self, pieces: usize, job: Job) -> Result<(), Status> {
        if pieces <= 1 || self.width() <= 1 {
            (0..pieces).for_each(job);
            return self.check_crashed();
        }
        // SAFETY: the job outlives its publication: this function returns only after `done` reached
        // `pieces` (no helper holds a claim) or, after a crash, after every living helper left the job.
        let erased: JobPtr = unsafe { core::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), JobPtr>(job as *const _) };
        unsafe { *self.job.get() = Some(erased) };
        self.pieces.store(pieces as u32, Ordering::Release);
        self.done.store(0, Ordering::Release);
        let generation = self.generation.load(Ordering::Relaxed).wrapping_add(1).max(1);
        self.claim.store((generation as u64) << 32, Ordering::Release);
        self.generation.store(generation, Ordering::Release);
        self.wake_helpers();
        self.work(generation);
        while self.done.load(Ordering::Acquire) < pieces as u32 {
            if self.crashed.load(Ordering::Acquire) != 0 {
                return self.abandon(generation);
            }
            core::hint::spin_loop();
        }
        unsafe { *self.job.get() = None };
        self.check_crashed()
    }
}

impl Team {
    fn wake_helpers(&self) {
        drop(self.sleep.lock().unwrap_or_else(|e| e.into_inner()));
        self.wake.notify_all();
    }

    fn check_crashed(&self) -> Result<(), Status> {
        if self.crashed.load(Ordering::Acquire) != 0 {
            return Err(Status::WorkerCrashed);
        }
        Ok(())
    }

    /// A helper died holding a piece: stop handing pieces out, wait for the living to leave, fail.
    fn abandon(&self, generation: u32) -> Result<(), Status> {
        self.claim.store(u64::MAX, Ordering::Release);
        let crashed = self.crashed.load(Ordering::Acquire);
        for (i, w) in self.working.iter().enumerate().take(self.helpers) {
            if crashed & (1 << i) == 0 {
                while w.load(Ordering::Acquire) == generation {
                    core::hint::spin_loop();
                }
            }
        }
        Err(Status::WorkerCrashed)
    }
}

/// `team` as a runner: the team, or serial for a null handle.
///
/// # Safety
/// `team` null or a live handle.
pub unsafe fn runner<'a>(team: *const Team) -> &'a dyn Parallel {
    if team.is_null() {
        &atrous_kernels::SERIAL
    } else {
        &*team
    }
}

/// Makes a team of `helpers` helpers (1..=`MAX_HELPERS`) into `*out`. Its helpers are the instances that
/// call `atrous_team_serve`; until they do, the caller does all the work.
///
/// # Safety
/// `out` valid for one pointer.
#[no_mangle]
pub unsafe extern "C" fn atrous_team_create(helpers: usize, out: *mut *mut Team) -> i32 {
    Status::code((|| {
        if !cfg!(atrous_threads) {
            return Err(Status::Unsupported);
        }
        if helpers == 0 || helpers > MAX_HELPERS {
            return Err(Status::InvalidDescriptor);
        }
        let team = try_box(Team::new(helpers)).ok_or(Status::OutOfMemory)?;
        *out = team;
        Ok(())
    })())
}

/// Frees a team. Its helpers must have returned from `atrous_team_serve` (see `atrous_team_shutdown`).
///
/// # Safety
/// `team` a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn atrous_team_free(team: *mut Team) {
    free_handle(team);
}

/// Sets how many threads (the caller included, 1..=helpers + 1) the next calls with this team use.
///
/// # Safety
/// `team` a live handle; called between jobs.
#[no_mangle]
pub unsafe extern "C" fn atrous_team_set_width(team: *const Team, width: usize) -> i32 {
    let team = &*team;
    if width == 0 || width > team.helpers + 1 {
        return Status::InvalidDescriptor as i32;
    }
    team.width.store(width as u32, Ordering::Release);
    0
}

/// A helper's whole life: serves jobs as helper `index` until the team shuts down. Call it from a worker,
/// on an instance whose stack pointer has been moved to a stack of its own.
///
/// # Safety
/// `team` a live handle; each `index < helpers` served by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn atrous_team_serve(team: *const Team, index: usize) -> i32 {
    let team = &*team;
    if index >= team.helpers {
        return Status::InvalidDescriptor as i32;
    }
    team.serve(index);
    0
}

/// Asks the helpers to return from `atrous_team_serve`.
///
/// # Safety
/// `team` a live handle.
#[no_mangle]
pub unsafe extern "C" fn atrous_team_shutdown(team: *const Team) {
    let team = &*team;
    team.shutdown.store(1, Ordering::Release);
    team.wake_helpers();
}

/// The address of the team's `crashed` word (bit i: helper i died), which the JavaScript owning the
/// helpers' workers sets with `Atomics.or` when one exits unexpectedly.
///
/// # Safety
/// `team` a live handle.
#[no_mangle]
pub unsafe extern "C" fn atrous_team_crashed_word(team: *const Team) -> *const u32 {
    (*team).crashed.as_ptr()
}
