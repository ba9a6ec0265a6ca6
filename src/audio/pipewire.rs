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

/// The graph's clock as PipeWire's `settings` metadata gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphClock {
    /// `clock.rate`: the rate the graph runs at unless forced or switched.
    pub rate: u32,
    /// `clock.allowed-rates`: rates the graph may switch to when a stream asks while idle.
    pub allowed: Vec<u32>,
    /// `clock.force-rate`, when set (not 0).
    pub forced: Option<u32>,
}

impl GraphClock {
    /// The rate the graph will run a stream at.
    pub fn effective(&self) -> u32 {
        self.forced.unwrap_or(self.rate)
    }

    /// Whether PipeWire would resample a stream at `rate`.
    pub fn resamples(&self, rate: u32) -> bool {
        rate != self.effective() && (self.forced.is_some() || !self.allowed.contains(&rate))
    }
}

/// Reads `pw-metadata -n settings 0` output.
pub fn parse_settings(text: &str) -> Option<GraphClock> {
    let value = |key: &str| {
        let tag = format!("key:'{key}' value:'");
        text.lines().find_map(|l| {
            let rest = &l[l.find(&tag)? + tag.len()..];
            Some(rest[..rest.find('\'')?].to_string())
        })
    };
    let rate = value("clock.rate")?.trim().parse().ok()?;
    let allowed = value("clock.allowed-rates")
        .map(|v| {
            v.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace())
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter_map(|r| r.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let forced = value("clock.force-rate")
        .and_then(|v| v.trim().parse().ok())
        .filter(|&r: &u32| r != 0);
    Some(GraphClock {
        rate,
        allowed,
        forced,
    })
}

/// Whether a PipeWire server answers on this process's socket path (`pipewire-0` in
/// `$PIPEWIRE_RUNTIME_DIR` or `$XDG_RUNTIME_DIR`).
fn server_socket() -> bool {
    ["PIPEWIRE_RUNTIME_DIR", "XDG_RUNTIME_DIR"]
        .iter()
        .filter_map(std::env::var_os)
        .any(|d| std::path::Path::new(&d).join("pipewire-0").exists())
}

/// The running graph's clock, asked of `pw-metadata` (PipeWire's own tool, installed with
/// it); `None` when no PipeWire runs here or it does not answer within a second.
pub fn graph_clock() -> Option<GraphClock> {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    if !server_socket() {
        return None;
    }
    let mut child = Command::new("pw-metadata")
        .args(["-n", "settings", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(1);
    while child.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut text).ok()?;
    parse_settings(&text)
}

/// ALSA devices that are PipeWire's plugin on a PipeWire desktop.
pub fn is_pipewire_alsa(device_id: &str) -> bool {
    matches!(device_id, "alsa:pipewire" | "alsa:default")
}

/// A warning when PipeWire would resample a stream at `rate` (silently, and not exactly),
/// with how to set the graph's rate.
pub fn rate_warning(clock: &GraphClock, rate: u32) -> Option<String> {
    clock.resamples(rate).then(|| {
        let graph = clock.effective();
        format!(
            "PipeWire's graph runs at {graph} Hz: this recording at {rate} Hz would be resampled by PipeWire, not recorded as the interface delivers it. Record at {graph} Hz (--rate {graph}), or set the graph's rate: `pw-metadata -n settings 0 clock.force-rate {rate}` until PipeWire restarts, or default.clock.rate = {rate} (and default.clock.allowed-rates) in ~/.config/pipewire/pipewire.conf.d/"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{GraphClock, parse_settings, props_without_remix, rate_warning};

    const SETTINGS: &str = "Found \"settings\" metadata 32
update: id:0 key:'log.level' value:'2' type:''
update: id:0 key:'clock.rate' value:'48000' type:''
update: id:0 key:'clock.allowed-rates' value:'[ 44100, 48000 ]' type:''
update: id:0 key:'clock.force-rate' value:'0' type:''
";

    #[test]
    fn reads_the_graph_clock_from_pw_metadata() {
        assert_eq!(
            parse_settings(SETTINGS),
            Some(GraphClock {
                rate: 48_000,
                allowed: vec![44_100, 48_000],
                forced: None
            })
        );
        assert_eq!(parse_settings("nothing"), None);
    }

    #[test]
    fn warns_only_when_the_graph_would_resample() {
        let mut clock = parse_settings(SETTINGS).expect("settings");
        assert!(rate_warning(&clock, 48_000).is_none());
        // An allowed rate: the graph switches to it.
        assert!(rate_warning(&clock, 44_100).is_none());
        let w = rate_warning(&clock, 96_000).expect("a warning");
        assert!(
            w.contains("48000 Hz") && w.contains("clock.force-rate 96000"),
            "{w}"
        );
        clock.forced = Some(48_000);
        assert!(rate_warning(&clock, 44_100).is_some());
    }

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
