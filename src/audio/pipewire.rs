//! What tapedeck asks of, and checks about, a PipeWire graph it records through (by its ALSA
//! plugin, its JACK layer or natively).

/// The stream property that keeps PipeWire from remixing a client's channels. Without it an
/// 8-channel ALSA capture stream (positions FL FR RL RR FC LFE SL SR) linked to an
/// interface's AUX0..7 ports is matched as stereo and upmixed: channels 3, 4 and 6 come out
/// silent, 5 and 8 filtered, with no error.
const DONT_REMIX: &str = "stream.dont-remix";

/// `PIPEWIRE_PROPS` with `stream.dont-remix = true` added, or `None` when it already says
/// (either way) what it wants. PipeWire's ALSA plugin and JACK layer read the variable for
/// every stream they create.
pub fn props_without_remix(current: Option<&str>) -> Option<String> {
    match current.map(str::trim) {
        None | Some("") => Some(format!("{{ {DONT_REMIX} = true }}")),
        // The user chose; respect it.
        Some(p) if p.contains(DONT_REMIX) => None,
        Some(p) => match p.strip_suffix('}') {
            Some(body) if p.starts_with('{') => Some(format!("{body} {DONT_REMIX} = true }}")),
            // Not an object PipeWire would parse either; leave it alone.
            _ => None,
        },
    }
}

/// Sets `PIPEWIRE_PROPS` so that PipeWire does not remix tapedeck's streams.
///
/// # Safety
///
/// Changes the process environment: call it before any other thread exists (at the very
/// start of `main`), as `std::env::set_var` requires.
pub unsafe fn ask_not_to_remix() {
    let current = std::env::var("PIPEWIRE_PROPS").ok();
    if let Some(props) = props_without_remix(current.as_deref()) {
        // SAFETY: the caller guarantees the process is still single-threaded.
        unsafe { std::env::set_var("PIPEWIRE_PROPS", props) };
    }
}

#[cfg(test)]
mod tests {
    use super::props_without_remix;

    #[test]
    fn adds_dont_remix_to_what_the_user_set() {
        assert_eq!(
            props_without_remix(None).as_deref(),
            Some("{ stream.dont-remix = true }")
        );
        assert_eq!(
            props_without_remix(Some("{ node.latency = 256/48000 }")).as_deref(),
            Some("{ node.latency = 256/48000  stream.dont-remix = true }")
        );
        assert_eq!(
            props_without_remix(Some("{ stream.dont-remix = false }")),
            None
        );
        assert_eq!(props_without_remix(Some("garbage")), None);
    }
}
