//! Free disk space, for the "time left" a front end shows, and the largest file the file
//! system takes, where it is known ahead (FAT), so that a take can be split before it.

use std::path::Path;

/// Bytes available to this user on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-buffer; it is
    // read only when the call reports success.
    let r = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: statvfs succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    // The field types differ between platforms (u32 on some 32-bit ones).
    #[allow(clippy::useless_conversion)]
    Some(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// The largest file FAT file systems hold: 4 GiB − 1 byte.
pub const FAT_FILE_LIMIT: u64 = (1 << 32) - 1;
/// `statfs` f_type of the kernel's msdos and vfat file systems.
const MSDOS_SUPER_MAGIC: i64 = 0x4d44;
/// Mount types (as /proc/self/mountinfo names them) with FAT's file size limit. exFAT has none.
const FAT_TYPES: &[&str] = &["vfat", "msdos", FUSEFAT];

/// The largest file, in bytes, that the file system holding `path` takes, where it is known
/// ahead: FAT's 4 GiB − 1. `None`: no known limit (a write that does not fit is refused with
/// EFBIG, and the take continues in a next file then).
pub fn file_size_limit(path: &Path) -> Option<u64> {
    if statfs_type(path) == Some(MSDOS_SUPER_MAGIC) {
        return Some(FAT_FILE_LIMIT);
    }
    let real = std::fs::canonicalize(path).ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let fs_type = mount_type(&table, &real)?;
    FAT_TYPES
        .contains(&fs_type.as_str())
        .then_some(FAT_FILE_LIMIT)
}

/// Whether a file on the file system holding `path` may have its header rewritten in place
/// while it grows. Not on fusefat (FAT through FUSE): after writes that go back to the start of
/// a file, later writes at its end land elsewhere or are refused after a while, the image
/// reporting itself full. Files there get their header sizes when they are finished (and from
/// `tapedeck recover` after a crash). The kernel's vfat and every other system: yes.
pub fn header_rewrites_in_place(path: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(path) else {
        return true;
    };
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    mount_type(&table, &real).as_deref() != Some(FUSEFAT)
}

/// fusefat's mount type in /proc/self/mountinfo.
const FUSEFAT: &str = "fuse.fusefat";

fn statfs_type(path: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-buffer; it is
    // read only when the call reports success.
    let r = unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: statfs succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    // The field's type differs between platforms.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    Some(st.f_type as i64)
}

/// The file system type of the mount holding the absolute, canonical `path`, from the text of
/// /proc/self/mountinfo: the longest mount point that contains it (the last one listed wins
/// when a point is mounted over).
pub fn mount_type(mountinfo: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        // id parent major:minor root mount-point options [optional fields...] - type source ...
        let mut fields = line.split(' ');
        let Some(point) = fields.nth(4) else { continue };
        let Some(fs_type) = fields.skip_while(|f| *f != "-").nth(1) else {
            continue;
        };
        let point = unescape_octal(point);
        if path.starts_with(&point) {
            let depth = Path::new(&point).components().count();
            if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
                best = Some((depth, fs_type.to_string()));
            }
        }
    }
    best.map(|(_, t)| t)
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
45 22 0:40 / /media/usb rw,nosuid,nodev,relatime shared:7 - vfat /dev/sdb1 rw,fmask=0022
46 22 0:41 / /tmp/split\\040probe/mnt rw,nosuid,nodev,relatime - fuse.fusefat fusefat rw,user_id=0
47 45 0:42 / /media/usb/inner rw - exfat /dev/sdc1 rw
";

    #[test]
    fn the_mount_holding_a_path_is_the_longest_containing_mount_point() {
        let t = |p: &str| super::mount_type(MOUNTINFO, Path::new(p));
        assert_eq!(t("/home/ana/s").as_deref(), Some("ext4"));
        assert_eq!(t("/media/usb/sessions").as_deref(), Some("vfat"));
        assert_eq!(t("/media/usb").as_deref(), Some("vfat"));
        // A mount point is a whole path component, not a prefix of the text.
        assert_eq!(t("/media/usb2").as_deref(), Some("ext4"));
        assert_eq!(t("/media/usb/inner/x").as_deref(), Some("exfat"));
        // Escaped spaces in mount points.
        assert_eq!(t("/tmp/split probe/mnt/S").as_deref(), Some("fuse.fusefat"));
    }

    #[test]
    fn fat_mounts_have_a_known_limit_and_others_none() {
        for (ty, limit) in [
            ("vfat", true),
            ("msdos", true),
            ("fuse.fusefat", true),
            ("exfat", false),
            ("ext4", false),
        ] {
            assert_eq!(super::FAT_TYPES.contains(&ty), limit, "{ty}");
        }
        // This test's own folder is no FAT drive, and takes header checkpoints.
        assert_eq!(super::file_size_limit(Path::new(".")), None);
        assert!(super::header_rewrites_in_place(Path::new(".")));
    }

    #[test]
    fn the_current_folder_has_some_space() {
        assert!(super::free_bytes(std::path::Path::new(".")).is_some_and(|b| b > 0));
    }
}
