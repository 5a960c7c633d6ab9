//! The C allocator's settings for the memory-heavy commands (the server,
//! the journey map, the demo). glibc's defaults hand large freed blocks
//! back to the kernel (`munmap`, or trimming the heap above 128 KB–64 MB
//! of free space) and serve the next large request with fresh pages, so a
//! computation that reads partition after partition faults its buffers in
//! again each time: a sixth of the CPU of a cold journey map went to page
//! faults. Keeping up to 512 MB of freed memory per arena for reuse takes
//! that away (the 1M-event demo's cold map: ~330 → ~260 ms).
//!
//! The settings are glibc tunables, read only when a process starts, so the
//! command runs itself again with `GLIBC_TUNABLES` set (same process id,
//! arguments and descriptors). A `GLIBC_TUNABLES` already in the
//! environment is the operator's choice and is left as it is; where the
//! re-run is impossible the command simply runs with the defaults.

use crate::cli::Command;

const TUNABLES: &str = "GLIBC_TUNABLES";
/// Set on the re-run itself: the loader drops `GLIBC_TUNABLES` from the
/// environment of a binary run "secure" (setuid, or file capabilities such
/// as `cap_net_bind_service` to serve port 443), so its absence alone
/// would make the command run itself again and again.
const RERUN: &str = "WAYFARER_MALLOC_RERUN";
/// Blocks up to 64 MB come from the heap, and up to 512 MB of free space
/// stays mapped.
const SETTINGS: &str = "glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=536870912";

/// Whether a command is long and memory-heavy enough to be worth it (the
/// quick queries are not: the re-run costs a millisecond or two).
pub fn wants_tuning(command: &Command) -> bool {
    matches!(command, Command::Serve(_) | Command::Map(_) | Command::Demo(_))
}

/// Runs this process again with the allocator settings, unless they (or
/// the operator's own) are in effect; returns only if it did not.
pub fn rerun_tuned() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(TUNABLES).is_some() || std::env::var_os(RERUN).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let mut again = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            again.arg0(arg0);
        }
        // `exec` returns only when it failed; then run with the defaults.
        let _failed = again.args(args).env(TUNABLES, SETTINGS).env(RERUN, "1").exec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_well_formed_tunables() {
        for pair in SETTINGS.split(':') {
            let (name, value) = pair.split_once('=').unwrap();
            assert!(name.starts_with("glibc.malloc."), "{name}");
            assert!(value.parse::<u64>().unwrap() >= 64 << 20, "{pair}");
        }
    }
}
