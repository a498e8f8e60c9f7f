//! Who holds a lease: a process, named by its host and id, and whether it
//! still runs.

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned()
}

/// This process as a lease owner.
pub fn this_process() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether the process that owns a lease still runs. Only a process on this
/// host can be checked; another host's is assumed alive until its lease expires.
pub fn alive(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else { return false };
    if host != hostname() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
