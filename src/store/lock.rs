//! One writer per state file: an exclusive advisory lock (`flock`) on `<state file>.lock`,
//! held for the life of the process that reconciles (fleetd, `fleetctl reconcile --local`).
//! The lock file names its holder (pid, command, start time) so a refused second process can
//! say who holds it. The operating system drops the lock when the holder exits or dies, so a
//! crash never leaves a stale lock behind; the file itself stays.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("state file {state} is in use by another process ({holder}); stop it first, or ask the running fleetd for a run with `fleetctl reconcile --now`")]
    Held {
        /// The state file.
        state: PathBuf,
        /// What the lock file says about the holder.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("state lock {path}: {reason}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
}

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

/// The lock file of a state file: `state.db` → `state.db.lock`.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut s = state.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

impl StateLock {
    /// Takes the lock of `state` for this process, described as `command`; refuses at once
    /// (no waiting) when another process holds it.
    pub fn acquire(state: &Path, command: &str) -> Result<StateLock, LockError> {
        let path = lock_path(state);
        let io = |e: std::io::Error| LockError::Io {
            path: path.clone(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match try_lock(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut holder = String::new();
                file.read_to_string(&mut holder).map_err(io)?;
                let holder = holder.trim();
                return Err(LockError::Held {
                    state: state.to_path_buf(),
                    holder: if holder.is_empty() {
                        format!("see {}", path.display())
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(e) => return Err(io(e)),
        }
        let who = format!(
            "pid {}, {command}, since {}",
            std::process::id(),
            crate::store::now_text()
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(format!("{who}\n").as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(StateLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `Ok(false)` when another open file holds the lock.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Elsewhere there is no flock: fleetd's platforms are Unix ones.
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// This process's command line, for the lock file (arguments only: no environment).
pub fn this_command() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut s = args.join(" ");
    if s.len() > 300 {
        s.truncate(300);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_named_and_the_lock_is_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let first = StateLock::acquire(&state, "fleetd --config a.toml").unwrap();
        assert_eq!(first.path(), dir.path().join("state.db.lock"));
        let err = StateLock::acquire(&state, "fleetctl reconcile --local").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id()))
                && msg.contains("fleetd --config a.toml"),
            "{msg}"
        );
        drop(first);
        let again = StateLock::acquire(&state, "fleetctl reconcile --local").unwrap();
        drop(again);
    }
}
