//! Work splitting. A driver cuts its *outputs* into `tasks` independent pieces, each computed with exactly
//! the arithmetic the serial loop would use, and hands them to a `Parallel` runner. Which thread runs a
//! piece never changes a bit of the result: outputs are split, the order of every reduction is not.
//!
//! The kernels know nothing of threads: atrous-wasm's team (a shared-memory build's helper instances) and
//! the tests' scoped std threads implement `Parallel`; `SERIAL` runs every piece on the caller.

use core::sync::atomic::{AtomicI32, Ordering};

use crate::status::Status;

/// A piece of work: `job(task)` for every `task` in `0..tasks`, each exactly once, in any order and on
/// any thread. It must touch only the outputs of its own task.
pub type Job<'a> = &'a (dyn Fn(usize) + Sync);

pub trait Parallel: Sync {
    /// How many threads may run pieces at once (1 for serial).
    fn width(&self) -> usize;
    /// Work below which a job stays on one thread (tests lower it to split even tiny jobs).
    fn min_work(&self) -> usize {
        MIN_PARALLEL_WORK
    }
    /// Runs `job` for every task in `0..tasks` and returns when all are done. Fails (`WorkerCrashed`)
    /// only when a thread died; the outputs are then unspecified.
    fn run(&self, tasks: usize, job: Job) -> Result<(), Status>;
}

/// `par.run` for pieces that may fail: runs every piece (a failed one does not stop the others) and
/// returns the first failure seen, or the runner's own (`WorkerCrashed`).
pub fn try_run(par: &dyn Parallel, tasks: usize, job: &(dyn Fn(usize) -> Result<(), Status> + Sync)) -> Result<(), Status> {
    let failure = AtomicI32::new(0);
    par.run(tasks, &|task| {
        if let Err(e) = job(task) {
            let _ = failure.compare_exchange(0, e as i32, Ordering::Relaxed, Ordering::Relaxed);
        }
    })?;
    match Status::from_code(failure.load(Ordering::Relaxed)) {
        None | Some(Status::Ok) => Ok(()),
        Some(e) => Err(e),
    }
}

/// Every piece on the calling thread, in order.
pub struct Serial;

impl Parallel for Serial {
    fn width(&self) -> usize {
        1
    }
    fn run(&self, tasks: usize, job: Job) -> Result<(), Status> {
        (0..tasks).for_each(job);
        Ok(())
    }
}

pub static SERIAL: Serial = Serial;

/// Work (in multiply-adds or element visits) below which splitting costs more than it saves: waking a
/// helper and handing over a task is a few microseconds, about this much work on one core.
pub const MIN_PARALLEL_WORK: usize = 1 << 15;

/// Pieces per thread a job is cut into at most: enough that the last piece, whichever thread takes it,
/// is a small share of the job (measured: 4 per thread left one thread idle for up to 1/8 of an op).
pub const PIECES_PER_THREAD: usize = 8;

/// How many pieces to cut `items` units of work into when `par` runs them: several per thread, so that a
/// thread slowed by another process does not hold the rest back, and never more than `items`. One when
/// the whole job is too small to be worth sharing.
pub fn pieces(par: &dyn Parallel, items: usize, work: usize) -> usize {
    let width = par.width();
    if width <= 1 || items <= 1 || work < par.min_work() {
        return 1;
    }
    items.min(width * PIECES_PER_THREAD)
}

/// The half-open range of `0..items` that piece `index` of `count` covers (balanced, in order).
pub fn piece_range(items: usize, count: usize, index: usize) -> core::ops::Range<usize> {
    let start = items * index / count;
    let end = items * (index + 1) / count;
    start..end
}

/// A raw pointer that may be shared between the pieces of one job. Each piece writes only its own
/// outputs through it, which is what makes the sharing sound.
#[derive(Clone, Copy)]
pub struct SharedMut<T>(pub *mut T);

// SAFETY: pieces write disjoint elements (the contract of `Job`).
unsafe impl<T> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The pointer. A method, not the field, so closures capture the whole `Sync` wrapper.
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
pub mod testing {
    //! Scoped std threads as a `Parallel` runner, for the kernels' bit-identity tests.
    use super::{Job, Parallel};
    use crate::status::Status;
    use core::sync::atomic::{AtomicUsize, Ordering};

    pub struct Threads(pub usize);

    impl Parallel for Threads {
        fn width(&self) -> usize {
            self.0
        }
        fn min_work(&self) -> usize {
            0
        }
        fn run(&self, tasks: usize, job: Job) -> Result<(), Status> {
            let next = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..self.0 {
                    s.spawn(|| loop {
                        let task = next.fetch_add(1, Ordering::Relaxed);
                        if task >= tasks {
                            break;
                        }
                        job(task);
                    });
                }
            });
            Ok(())
        }
    }
}

/// Panels per block for a driver whose `images` images (or groups) each hold `panels` panels: `most` (what
/// the caches allow) on one thread; with threads at most each piece's share, so that every thread gets blocks
/// of its own before `channel_tile_groups` cuts blocks into runs of channel tiles (each of which must pack or
/// transform its block's inputs again). Shared by the GEMM conv and Winograd drivers. A block groups panels
/// only: each output's sum runs over the channels in the same order whatever the block, so the bits do not
/// depend on it.
pub fn panels_per_block(par: &dyn Parallel, work: usize, most: usize, panels: usize, images: usize) -> usize {
    if par.width() > 1 && work >= par.min_work() {
        let per_image = (par.width() * PIECES_PER_THREAD).div_ceil(images.max(1));
        most.min(panels.div_ceil(per_image)).max(1)
    } else {
        most
    }
}

/// Runs of channel tiles to cut each spatial unit into, so that an output with few spatial units (small
/// feature maps, as in ASPP) still gives every thread `PIECES_PER_THREAD` pieces; 1 when serial or small.
/// Shared by the GEMM conv and Winograd drivers; depends only on the shape and the width, so the cut (and
/// the bits) are the same whichever thread runs a piece.
pub fn channel_tile_groups(par: &dyn Parallel, work: usize, spatial: usize, channel_tiles: usize) -> usize {
    let wanted = par.width() * PIECES_PER_THREAD;
    if par.width() > 1 && work >= par.min_work() && spatial < wanted {
        wanted.div_ceil(spatial).min(channel_tiles.div_ceil(2)).max(1)
    } else {
        1
    }
}
