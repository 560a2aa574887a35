//! Starting HAProxy so that it dies with the process that started it: the child asks the kernel for SIGTERM
//! when its parent goes away (`PR_SET_PDEATHSIG`), even when that parent is killed with SIGKILL and runs no
//! cleanup.
//!
//! Linux sends that signal when the *thread* that forked the child exits, not the process. Tokio's threads come
//! and go (blocking threads end when idle, `block_in_place` hands a worker's core to a new thread), so every
//! child is forked from one dedicated thread that lives as long as the process.

use std::os::unix::process::CommandExt;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use rustix::process::Signal;
use tokio::process::{Child, Command};

/// A spawn to run on the spawner thread, which answers on the job's own channel.
type Job = Box<dyn FnOnce() + Send>;

/// The spawner thread's queue; the thread is started on first use and never ends.
fn spawner() -> std::io::Result<mpsc::Sender<Job>> {
    static QUEUE: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    if let Some(queue) = QUEUE.get() {
        return Ok(queue.lock().map_err(|_| poisoned())?.clone());
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("vamp-haproxy-spawner".into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })?;
    let queue = QUEUE.get_or_init(|| Mutex::new(tx));
    let sender = queue.lock().map_err(|_| poisoned())?.clone();
    Ok(sender)
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("the HAProxy spawner's queue is poisoned")
}

/// Makes `command`'s child receive SIGTERM when the process that spawns it dies. A child whose parent died
/// between the fork and this request fails to start instead of running on as an orphan.
pub fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    #[allow(unsafe_code)]
    // SAFETY: the closure runs between fork and exec and only makes two system calls (prctl, getppid); it
    // allocates nothing and takes no lock.
    unsafe {
        command.as_std_mut().pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
            let current = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
            if u32::try_from(current).ok() != Some(parent) {
                return Err(std::io::Error::other(
                    "the agent exited while HAProxy was starting",
                ));
            }
            Ok(())
        });
    }
}

/// Spawns `command` (prepared with [`die_with_parent`]) from the process-long spawner thread, inside the
/// caller's tokio runtime (which reaps the child). Must be called inside a tokio runtime.
pub async fn spawn(mut command: Command) -> std::io::Result<Child> {
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _entered = handle.enter();
        let _ = tx.send(command.spawn());
    });
    spawner()?
        .send(job)
        .map_err(|_| std::io::Error::other("the HAProxy spawner thread is gone"))?;
    rx.await
        .map_err(|_| std::io::Error::other("the HAProxy spawner thread dropped the request"))?
}
