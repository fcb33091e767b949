//! Process figures from Linux's `/proc` (no extra dependencies): resident memory (`VmRSS`),
//! its peak (`VmHWM`, resettable through `clear_refs`), and CPU time (`utime + stime`, in
//! USER_HZ ticks, which Linux always reports at 100 per second), for this process, one of
//! its threads, or a child process. Elsewhere every figure is `None`.

use std::path::PathBuf;

/// Linux reports `/proc/*/stat` times in USER_HZ, fixed at 100 per second.
const USER_HZ: f64 = 100.0;

fn proc_dir(pid: Option<u32>) -> PathBuf {
    match pid {
        Some(p) => PathBuf::from(format!("/proc/{p}")),
        None => PathBuf::from("/proc/self"),
    }
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in MiB.
pub fn status_mib(pid: Option<u32>, field: &str) -> Option<f64> {
    let text = std::fs::read_to_string(proc_dir(pid).join("status")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kib: f64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib / 1024.0)
    })
}

/// Resident memory now, MiB.
pub fn rss_mib(pid: Option<u32>) -> Option<f64> {
    status_mib(pid, "VmRSS")
}

/// Peak resident memory since start or the last [`reset_peak`], MiB.
pub fn peak_rss_mib(pid: Option<u32>) -> Option<f64> {
    status_mib(pid, "VmHWM")
}

/// Resets this process's `VmHWM` to its current RSS (Linux ≥ 4.0); false if not possible.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `utime + stime` of a `stat` file, seconds.
fn stat_cpu(path: PathBuf) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU time of a process (all its threads, live and exited), seconds.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    stat_cpu(proc_dir(pid).join("stat"))
}

/// CPU time of this process's live threads whose name starts with `prefix`, seconds.
pub fn threads_cpu_seconds(prefix: &str) -> Option<f64> {
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            total += stat_cpu(e.path().join("stat")).unwrap_or(0.0);
        }
    }
    Some(total)
}

/// CPU time split between fleetsync and the in-process simulator, at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSplit {
    pub total: f64,
    pub sim: f64,
}

impl CpuSplit {
    /// Now.
    pub fn now(sim_prefix: &str) -> CpuSplit {
        CpuSplit {
            total: cpu_seconds(None).unwrap_or(0.0),
            sim: threads_cpu_seconds(sim_prefix).unwrap_or(0.0),
        }
    }
    /// fleetsync's (everything but the simulator's threads) CPU seconds since `earlier`.
    pub fn fleetsync_since(&self, earlier: &CpuSplit) -> f64 {
        ((self.total - earlier.total) - (self.sim - earlier.sim)).max(0.0)
    }
    /// The simulator's CPU seconds since `earlier`.
    pub fn sim_since(&self, earlier: &CpuSplit) -> f64 {
        (self.sim - earlier.sim).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            assert!(rss_mib(None).is_some_and(|m| m > 0.0));
            assert!(peak_rss_mib(None).is_some_and(|m| m > 0.0));
            assert!(cpu_seconds(None).is_some());
        }
    }
}
