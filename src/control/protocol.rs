//! The control socket's wire protocol: newline-delimited JSON, one object per line.
//!
//! A request is an object with a `cmd` (and an optional `id`, echoed in its reply). One `cmd`
//! namespace holds the protocol's own verbs (`hello`, `status`, `subscribe`, the friendly
//! `arm`/`record`/... for scripts) and every engine `Command` in its serde form: a line is
//! read as a verb when its `cmd` names one, else as a `Command`. Where both have the name
//! (`record`, `stop`, `mark`, `rename`, `note`, `keep_last`) the verb accepts every field the
//! command has, so a command's serde form always means what it says. docs/control.md is the
//! reference.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::engine::{Command, EndReason, Event, Snapshot};
pub use crate::frontend::headless::{MonitorStatus, StatusLine, TrackStatus};

/// The protocol's version. Additions (a new verb, field or message) keep it; a removal or a
/// change of meaning bumps it.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest request line, in bytes (without its newline). A longer one gets an error reply
/// and is skipped to its newline; the connection stays.
pub const MAX_LINE: usize = 64 * 1024;

/// The longest line a client accepts from a recorder (a snapshot of many tracks is long).
pub const MAX_REPLY_LINE: usize = 16 * 1024 * 1024;

/// A track named in a request: its number, its name, or `"all"`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum TrackRef {
    Number(u16),
    Name(String),
}

impl TrackRef {
    /// `"all"` (any case).
    pub fn is_all(&self) -> bool {
        matches!(self, Self::Name(n) if n.eq_ignore_ascii_case("all"))
    }

    /// From a command-line word: a number is a track number, anything else a name.
    pub fn parse(s: &str) -> Self {
        match s.parse::<u16>() {
            Ok(n) => Self::Number(n),
            Err(_) => Self::Name(s.to_string()),
        }
    }
}

/// A take's verdict, as `take` requests name it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Keep,
    NoGood,
    Circle,
    /// Removes the mark and the note.
    Clear,
    /// Only the note (`note`; empty removes it).
    Note,
}

/// What a subscriber is sent. Every field may be left out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct Subscription {
    /// Events as `--json-status` prints them (`take_started`, `take_finished`, `warning`,
    /// `triaged`, `stream_failed`). Default true.
    pub events: bool,
    /// The engine's events exactly, as `{"type":"event","event":{...}}` (what a remote front
    /// end needs: it tells a refused take from another warning).
    pub engine_events: bool,
    /// A status line (as `--json-status` prints it) every interval.
    pub status: bool,
    /// `{"type":"meters",...}` every interval: the highest peak of each input since the last.
    pub meters: bool,
    /// `{"type":"snapshot","snapshot":{...}}` every interval.
    pub snapshots: bool,
    /// The interval of status lines, meters and snapshots, in milliseconds (20 to 60000).
    pub interval_ms: u64,
}

impl Default for Subscription {
    fn default() -> Self {
        Self {
            events: true,
            engine_events: false,
            status: false,
            meters: false,
            snapshots: false,
            interval_ms: 1000,
        }
    }
}

/// The shortest and longest interval a subscription may ask for.
pub const MIN_INTERVAL_MS: u64 = 20;
pub const MAX_INTERVAL_MS: u64 = 60_000;

/// The protocol's own verbs (the engine's commands are the other half of the namespace).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Verb {
    /// Who is there: versions, session, rate, pid.
    Hello,
    /// One status line, as `--json-status` prints it.
    Status,
    /// The engine's whole snapshot.
    Snapshot,
    /// Start (or change) pushed messages.
    Subscribe(Subscription),
    Unsubscribe,
    /// Arm a track (number or name) or `"all"`.
    Arm {
        track: TrackRef,
    },
    Disarm {
        track: TrackRef,
    },
    /// Start a take; it stops by itself after `duration` ("90s", "10m") or `frames` if given
    /// (`max_frames` is the engine command's name for `frames`).
    Record {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
        #[serde(default, alias = "max_frames", skip_serializing_if = "Option::is_none")]
        frames: Option<u64>,
    },
    /// Stop the take (`reason` defaults to "stopped").
    Stop {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<EndReason>,
    },
    /// A marker in the current take.
    Mark {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    Rename {
        track: TrackRef,
        name: String,
    },
    /// A note in the manifest's log.
    Note {
        text: String,
    },
    /// Make a take of what was just played: the last `seconds` or `frames` (all that is kept
    /// when neither is given).
    KeepLast {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frames: Option<u64>,
    },
    /// A take's verdict (or one track's file of it).
    Take {
        verdict: Verdict,
        take: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        track: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// The verbs' `cmd` names.
pub const VERBS: &[&str] = &[
    "hello",
    "status",
    "snapshot",
    "subscribe",
    "unsubscribe",
    "arm",
    "disarm",
    "record",
    "stop",
    "mark",
    "rename",
    "note",
    "keep_last",
    "take",
];

/// The engine commands' `cmd` names (`Command`'s variants in snake_case).
pub const ENGINE_COMMANDS: &[&str] = &[
    "set_armed",
    "arm_all",
    "record",
    "keep_last",
    "stop",
    "play",
    "stop_song",
    "locate",
    "set_cue",
    "set_monitor",
    "choose_take",
    "mark",
    "rename",
    "clear_clips",
    "note",
    "triage",
    "shutdown",
];

/// A request: a protocol verb or an engine command.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Verb(Verb),
    Engine(Command),
}

impl Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Verb(v) => v.serialize(s),
            Self::Engine(c) => c.serialize(s),
        }
    }
}

impl From<Verb> for Request {
    fn from(v: Verb) -> Self {
        Self::Verb(v)
    }
}

impl From<Command> for Request {
    fn from(c: Command) -> Self {
        Self::Engine(c)
    }
}

/// A request line that could not be taken, with the `id` it carried (if one could be read).
#[derive(Clone, Debug, PartialEq)]
pub struct BadRequest {
    pub id: Option<Value>,
    pub message: String,
}

/// Reads one request line (without its newline). The `id` is returned apart.
pub fn parse_request(line: &[u8]) -> Result<(Option<Value>, Request), BadRequest> {
    let bad = |id: Option<Value>, message: String| BadRequest { id, message };
    if line.len() > MAX_LINE {
        return Err(bad(None, too_long()));
    }
    let text = std::str::from_utf8(line).map_err(|_| {
        bad(
            None,
            "the line is not UTF-8 text; send one JSON object per line".into(),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        bad(
            None,
            format!("not JSON ({e}); send one JSON object per line"),
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err(bad(
            None,
            "a request is a JSON object with a \"cmd\", e.g. {\"cmd\":\"status\"}".into(),
        ));
    };
    let id = map.remove("id");
    let cmd = match map.get("cmd") {
        Some(Value::String(c)) => c.clone(),
        Some(_) => return Err(bad(id, "\"cmd\" must be a string".into())),
        None => {
            return Err(bad(
                id,
                format!("a request needs a \"cmd\": one of {}", known_names()),
            ));
        }
    };
    let object = Value::Object(map);
    if VERBS.contains(&cmd.as_str()) {
        return serde_json::from_value::<Verb>(object)
            .map(|v| (id.clone(), Request::Verb(v)))
            .map_err(|e| bad(id, format!("bad {cmd} request: {e}")));
    }
    if ENGINE_COMMANDS.contains(&cmd.as_str()) {
        return serde_json::from_value::<Command>(object)
            .map(|c| (id.clone(), Request::Engine(c)))
            .map_err(|e| bad(id, format!("bad {cmd} command: {e}")));
    }
    Err(bad(
        id,
        format!("unknown cmd {cmd:?}; known: {}", known_names()),
    ))
}

/// Every `cmd`, once each, for error messages.
pub fn known_names() -> String {
    let mut names: Vec<&str> = VERBS.to_vec();
    for c in ENGINE_COMMANDS {
        if !names.contains(c) {
            names.push(c);
        }
    }
    names.join(", ")
}

/// The message for a request line over `MAX_LINE`.
pub fn too_long() -> String {
    format!("request line longer than {MAX_LINE} bytes; it was skipped")
}

/// What `hello` answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Hello {
    pub protocol: u32,
    /// tapedeck's version.
    pub version: String,
    pub session: String,
    pub session_dir: String,
    pub sample_rate: u32,
    pub pid: u32,
    /// The front end of the recorder: "screen", "headless" or "serve".
    pub front_end: String,
}

/// A successful reply: `{"type":"reply","id":..,"ok":true, ...fields}`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Reply {
    pub id: Option<Value>,
    /// Its fields besides `type`, `id` and `ok`.
    pub fields: Map<String, Value>,
}

impl Reply {
    pub fn new(id: Option<Value>) -> Self {
        Self {
            id,
            fields: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_string(), value);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The line, without its newline.
    pub fn to_line(&self) -> String {
        // By hand, so that `type` comes first (a JSON map would sort it last).
        let mut line = format!(
            "{{\"type\":\"reply\",\"id\":{},\"ok\":true",
            self.id.as_ref().unwrap_or(&Value::Null)
        );
        for (k, v) in &self.fields {
            line.push(',');
            line.push_str(&Value::from(k.as_str()).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
        line.push('}');
        line
    }
}

/// A message whose `type` comes first, then its own fields.
#[derive(Serialize)]
struct Typed<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: T,
}

fn typed_line<T: Serialize>(kind: &str, body: T) -> String {
    serde_json::to_string(&Typed { kind, body }).unwrap_or_default()
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    id: &'a Value,
    message: &'a str,
}

/// An error reply's line: `{"type":"error","id":..,"message":".."}`.
pub fn error_line(id: Option<&Value>, message: &str) -> String {
    typed_line(
        "error",
        ErrorBody {
            id: id.unwrap_or(&Value::Null),
            message,
        },
    )
}

/// Meters pushed to a subscriber.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Meters {
    /// Per input, the highest peak since the last meters message (null: digital silence).
    pub peaks_dbfs: Vec<Option<f64>>,
    /// Per input, samples at full scale since the counter was last cleared.
    pub clips: Vec<u64>,
}

/// The line of a meters message.
pub fn meters_line(m: &Meters) -> String {
    typed_line("meters", m)
}

#[derive(Serialize)]
struct SnapshotBody<'a> {
    snapshot: &'a Snapshot,
}

/// The line of a pushed snapshot.
pub fn snapshot_line(s: &Snapshot) -> String {
    typed_line("snapshot", SnapshotBody { snapshot: s })
}

#[derive(Serialize)]
struct EventBody<'a> {
    event: &'a Event,
}

/// The line of a pushed engine event.
pub fn engine_event_line(e: &Event) -> String {
    typed_line("event", EventBody { event: e })
}

#[derive(Serialize)]
struct LaggedBody {
    dropped: u64,
}

/// The line telling a slow reader how many pushed messages it lost.
pub fn lagged_line(dropped: u64) -> String {
    typed_line("lagged", LaggedBody { dropped })
}

/// A line from the recorder, read by a client.
#[derive(Clone, Debug)]
pub enum Incoming {
    Reply(Reply),
    Error { id: Option<Value>, message: String },
    Pushed(Pushed),
}

/// A message pushed to a subscriber.
#[derive(Clone, Debug)]
pub enum Pushed {
    Snapshot(Box<Snapshot>),
    /// An engine event exactly (subscribed with `engine_events`).
    Event(Event),
    Status(StatusLine),
    Meters(Meters),
    /// This many pushed messages were lost because the client did not read fast enough.
    Lagged(u64),
    /// An event as `--json-status` prints it: `take_started`, `take_finished`, `warning`,
    /// `triaged`, `stream_failed` (`kind`), and the whole line.
    Notice {
        kind: String,
        line: Value,
    },
    /// A message this client does not know (a newer recorder's).
    Other(Value),
}

/// Reads one line from the recorder.
pub fn parse_incoming(line: &str) -> Result<Incoming, String> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| format!("the recorder sent bad JSON: {e}"))?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let field = |name: &str| -> Result<Value, String> {
        v.get(name)
            .cloned()
            .ok_or_else(|| format!("the recorder's {kind} message has no {name}"))
    };
    let typed = |e: serde_json::Error| format!("the recorder's {kind} message: {e}");
    Ok(match kind.as_str() {
        "reply" => {
            let Value::Object(mut m) = v else {
                return Err("the recorder's reply is not an object".into());
            };
            let id = m.remove("id").filter(|i| !i.is_null());
            m.remove("type");
            m.remove("ok");
            Incoming::Reply(Reply { id, fields: m })
        }
        "error" => Incoming::Error {
            id: v.get("id").cloned().filter(|i| !i.is_null()),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .to_string(),
        },
        "snapshot" => Incoming::Pushed(Pushed::Snapshot(Box::new(
            serde_json::from_value(field("snapshot")?).map_err(typed)?,
        ))),
        "event" => Incoming::Pushed(Pushed::Event(
            serde_json::from_value(field("event")?).map_err(typed)?,
        )),
        "status" => Incoming::Pushed(Pushed::Status(
            serde_json::from_value(v.clone()).map_err(typed)?,
        )),
        "meters" => Incoming::Pushed(Pushed::Meters(
            serde_json::from_value(v.clone()).map_err(typed)?,
        )),
        "lagged" => Incoming::Pushed(Pushed::Lagged(
            field("dropped")?.as_u64().unwrap_or_default(),
        )),
        "take_started" | "take_finished" | "warning" | "triaged" | "stream_failed" => {
            Incoming::Pushed(Pushed::Notice { kind, line: v })
        }
        _ => Incoming::Pushed(Pushed::Other(v)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Locate, TakeSummary};
    use crate::session::manifest::{CueRecord, Mark};
    use crate::session::triage::{TriageChange, TriageTarget};

    fn parsed(line: &str) -> Result<(Option<Value>, Request), BadRequest> {
        parse_request(line.as_bytes())
    }

    fn verb(line: &str) -> Verb {
        match parsed(line) {
            Ok((_, Request::Verb(v))) => v,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn refused(line: &[u8]) -> String {
        match parse_request(line) {
            Err(b) => b.message,
            Ok(r) => panic!("{} was taken: {r:?}", String::from_utf8_lossy(line)),
        }
    }

    #[test]
    fn every_verb_parses() {
        assert_eq!(verb(r#"{"cmd":"hello"}"#), Verb::Hello);
        assert_eq!(verb(r#"{"cmd":"status"}"#), Verb::Status);
        assert_eq!(verb(r#"{"cmd":"snapshot"}"#), Verb::Snapshot);
        assert_eq!(verb(r#"{"cmd":"unsubscribe"}"#), Verb::Unsubscribe);
        assert_eq!(
            verb(r#"{"cmd":"subscribe","meters":true,"interval_ms":50}"#),
            Verb::Subscribe(Subscription {
                meters: true,
                interval_ms: 50,
                ..Subscription::default()
            })
        );
        assert_eq!(
            verb(r#"{"cmd":"arm","track":2}"#),
            Verb::Arm {
                track: TrackRef::Number(2)
            }
        );
        assert!(
            matches!(verb(r#"{"cmd":"disarm","track":"all"}"#), Verb::Disarm { track } if track.is_all())
        );
        assert_eq!(
            verb(r#"{"cmd":"arm","track":"Bass"}"#),
            Verb::Arm {
                track: TrackRef::Name("Bass".into())
            }
        );
        assert_eq!(
            verb(r#"{"cmd":"record","duration":"90s"}"#),
            Verb::Record {
                duration: Some("90s".into()),
                frames: None
            }
        );
        assert_eq!(
            verb(r#"{"cmd":"record"}"#),
            Verb::Record {
                duration: None,
                frames: None
            }
        );
        assert_eq!(verb(r#"{"cmd":"stop"}"#), Verb::Stop { reason: None });
        assert_eq!(
            verb(r#"{"cmd":"mark","label":"verse"}"#),
            Verb::Mark {
                label: Some("verse".into())
            }
        );
        assert_eq!(
            verb(r#"{"cmd":"rename","track":3,"name":"Bass DI"}"#),
            Verb::Rename {
                track: TrackRef::Number(3),
                name: "Bass DI".into()
            }
        );
        assert_eq!(
            verb(r#"{"cmd":"note","text":"new strings"}"#),
            Verb::Note {
                text: "new strings".into()
            }
        );
        assert_eq!(
            verb(r#"{"cmd":"keep_last","seconds":30}"#),
            Verb::KeepLast {
                seconds: Some(30.0),
                frames: None
            }
        );
        assert_eq!(
            verb(r#"{"cmd":"take","verdict":"no_good","take":3,"track":2,"note":"buzz"}"#),
            Verb::Take {
                verdict: Verdict::NoGood,
                take: 3,
                track: Some(2),
                note: Some("buzz".into())
            }
        );
    }

    #[test]
    fn the_id_is_returned_apart_and_any_json_value_will_do() {
        let (id, r) = parsed(r#"{"cmd":"status","id":7}"#).expect("parses");
        assert_eq!(id, Some(Value::from(7)));
        assert_eq!(r, Request::Verb(Verb::Status));
        let (id, _) = parsed(r#"{"id":"abc","cmd":"hello"}"#).expect("parses");
        assert_eq!(id, Some(Value::from("abc")));
        // A bad request still names its id, so the client can match the error.
        let e = parsed(r#"{"id":9,"cmd":"arm"}"#).expect_err("refused");
        assert_eq!(e.id, Some(Value::from(9)));
        assert!(e.message.starts_with("bad arm request"), "{}", e.message);
    }

    /// Every engine command in its serde form is a request that means the same command.
    #[test]
    fn every_engine_command_round_trips_through_a_line() {
        let commands = vec![
            Command::SetArmed {
                track: 2,
                armed: true,
            },
            Command::ArmAll(true),
            Command::ArmAll(false),
            Command::Play,
            Command::StopSong,
            Command::Locate(Locate::Start),
            Command::Locate(Locate::Frame(480)),
            Command::Locate(Locate::By(-48)),
            Command::Locate(Locate::NextMarker),
            Command::Locate(Locate::PreviousMarker),
            Command::SetCue {
                track: 1,
                cue: CueRecord::default(),
            },
            Command::SetMonitor { track: 1, on: true },
            Command::ChooseTake {
                track: 1,
                take: Some(2),
            },
            Command::ClearClips,
            Command::Triage {
                target: TriageTarget {
                    take: 1,
                    track: None,
                },
                change: TriageChange::mark(Mark::Circled, Some("best".into())),
            },
            Command::Shutdown {
                reason: EndReason::Stopped,
            },
        ];
        for c in commands {
            let line = serde_json::to_string(&Request::Engine(c.clone())).expect("serializes");
            match parsed(&line) {
                Ok((None, Request::Engine(back))) => assert_eq!(back, c, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        // The ones whose name a verb shares come back as that verb, meaning the same.
        let shared = [
            (
                Command::Record {
                    max_frames: Some(96),
                },
                Verb::Record {
                    duration: None,
                    frames: Some(96),
                },
            ),
            (
                Command::Stop {
                    reason: EndReason::Signal,
                },
                Verb::Stop {
                    reason: Some(EndReason::Signal),
                },
            ),
            (Command::Mark { label: None }, Verb::Mark { label: None }),
            (
                Command::Rename {
                    track: 4,
                    name: "Vox".into(),
                },
                Verb::Rename {
                    track: TrackRef::Number(4),
                    name: "Vox".into(),
                },
            ),
            (
                Command::Note("hello".into()),
                Verb::Note {
                    text: "hello".into(),
                },
            ),
            (
                Command::KeepLast { frames: Some(48) },
                Verb::KeepLast {
                    seconds: None,
                    frames: Some(48),
                },
            ),
            (
                Command::KeepLast { frames: None },
                Verb::KeepLast {
                    seconds: None,
                    frames: None,
                },
            ),
        ];
        for (c, v) in shared {
            let line = serde_json::to_string(&c).expect("serializes");
            assert_eq!(verb(&line), v, "{line}");
        }
        assert_eq!(
            serde_json::to_string(&Command::ArmAll(true)).expect("serializes"),
            r#"{"cmd":"arm_all","armed":true}"#
        );
        assert_eq!(
            serde_json::to_string(&Command::SetArmed {
                track: 2,
                armed: true
            })
            .expect("serializes"),
            r#"{"cmd":"set_armed","track":2,"armed":true}"#
        );
    }

    #[test]
    fn verbs_serialize_to_what_they_parse_from() {
        let verbs = vec![
            Verb::Hello,
            Verb::Subscribe(Subscription::default()),
            Verb::Arm {
                track: TrackRef::Name("all".into()),
            },
            Verb::Record {
                duration: Some("2s".into()),
                frames: None,
            },
            Verb::Take {
                verdict: Verdict::Circle,
                take: 1,
                track: None,
                note: None,
            },
        ];
        for v in verbs {
            let line = serde_json::to_string(&Request::Verb(v.clone())).expect("serializes");
            assert_eq!(verb(&line), v, "{line}");
        }
    }

    #[test]
    fn malformed_lines_get_a_message_that_says_what_to_send() {
        assert!(refused(b"").starts_with("not JSON"));
        assert!(refused(b"{\"cmd\":").starts_with("not JSON"));
        assert!(refused(b"\xff\xfe").contains("not UTF-8"));
        assert!(refused(b"[1,2]").contains("JSON object with a \"cmd\""));
        assert!(refused(b"42").contains("JSON object"));
        assert!(refused(br#"{"track":1}"#).starts_with("a request needs a \"cmd\""));
        assert_eq!(refused(br#"{"cmd":7}"#), "\"cmd\" must be a string");
        let unknown = refused(br#"{"cmd":"explode"}"#);
        assert!(unknown.starts_with("unknown cmd \"explode\"; known: hello, status"));
        assert!(unknown.contains("set_armed") && unknown.contains("shutdown"));
        // Wrong types.
        assert!(refused(br#"{"cmd":"arm","track":true}"#).starts_with("bad arm request"));
        assert!(refused(br#"{"cmd":"record","frames":"ten"}"#).starts_with("bad record request"));
        assert!(refused(br#"{"cmd":"subscribe","interval_ms":-1}"#).starts_with("bad subscribe"));
        assert!(
            refused(br#"{"cmd":"set_armed","track":70000,"armed":true}"#)
                .starts_with("bad set_armed command")
        );
        assert!(
            refused(br#"{"cmd":"take","verdict":"great","take":1}"#)
                .starts_with("bad take request")
        );
        assert!(refused(br#"{"cmd":"locate"}"#).starts_with("bad locate command"));
    }

    #[test]
    fn a_line_over_the_limit_is_refused_before_it_is_read() {
        let mut long = br#"{"cmd":"note","text":""#.to_vec();
        long.resize(MAX_LINE + 1, b'a');
        assert_eq!(refused(&long), too_long());
        // At the limit it is read.
        let mut fits = br#"{"cmd":"note","text":""#.to_vec();
        fits.resize(MAX_LINE - 2, b'a');
        fits.extend_from_slice(b"\"}");
        assert!(matches!(
            verb(std::str::from_utf8(&fits).expect("utf8")),
            Verb::Note { .. }
        ));
    }

    #[test]
    fn replies_and_pushed_messages_read_back() {
        let line = Reply::new(Some(Value::from(3)))
            .with("sent", Value::from("x"))
            .to_line();
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["type"], "reply");
        assert_eq!(v["ok"], true);
        match parse_incoming(&line) {
            Ok(Incoming::Reply(r)) => {
                assert_eq!(r.id, Some(Value::from(3)));
                assert_eq!(r.get("sent"), Some(&Value::from("x")));
            }
            other => panic!("{other:?}"),
        }
        match parse_incoming(&error_line(Some(&Value::from("a")), "no")) {
            Ok(Incoming::Error { id, message }) => {
                assert_eq!(id, Some(Value::from("a")));
                assert_eq!(message, "no");
            }
            other => panic!("{other:?}"),
        }
        let meters = Meters {
            peaks_dbfs: vec![Some(-6.0), None],
            clips: vec![0, 2],
        };
        match parse_incoming(&meters_line(&meters)) {
            Ok(Incoming::Pushed(Pushed::Meters(m))) => assert_eq!(m, meters),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_incoming(&lagged_line(12)),
            Ok(Incoming::Pushed(Pushed::Lagged(12)))
        ));
        let ev = Event::TakeStarted {
            take: 2,
            folder: "take-002".into(),
        };
        match parse_incoming(&engine_event_line(&ev)) {
            Ok(Incoming::Pushed(Pushed::Event(e))) => assert_eq!(e, ev),
            other => panic!("{other:?}"),
        }
        let refused = Event::TakeRefused("nothing armed".into());
        match parse_incoming(&engine_event_line(&refused)) {
            Ok(Incoming::Pushed(Pushed::Event(e))) => assert_eq!(e, refused),
            other => panic!("{other:?}"),
        }
        let finished = Event::TakeFinished(TakeSummary {
            take: 1,
            folder: "take-001".into(),
            frames: 10,
            seconds: 0.0,
            files: vec![],
            dropouts: vec![],
            reason: EndReason::Stopped,
            detail: None,
            clipped_samples: 0,
            tracks: vec![],
        });
        match parse_incoming(&crate::frontend::headless::event_line(&finished)) {
            Ok(Incoming::Pushed(Pushed::Notice { kind, line })) => {
                assert_eq!(kind, "take_finished");
                assert_eq!(line["end_reason"], "stopped");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_incoming(r#"{"type":"from_the_future"}"#),
            Ok(Incoming::Pushed(Pushed::Other(_)))
        ));
        assert!(parse_incoming("{").is_err());
    }

    #[test]
    fn every_line_the_recorder_sends_starts_with_its_type() {
        let lines = [
            Reply::new(None).with("a", Value::from(1)).to_line(),
            error_line(None, "x"),
            meters_line(&Meters {
                peaks_dbfs: vec![],
                clips: vec![],
            }),
            engine_event_line(&Event::Warning("w".into())),
            lagged_line(3),
            crate::frontend::headless::event_line(&Event::Triaged("take 1: circled".into())),
        ];
        for l in lines {
            assert!(l.starts_with("{\"type\":\""), "{l}");
            assert!(serde_json::from_str::<Value>(&l).is_ok(), "{l}");
        }
        assert_eq!(
            Reply::new(Some(Value::from("a")))
                .with("sent", serde_json::json!({"cmd": "play"}))
                .to_line(),
            r#"{"type":"reply","id":"a","ok":true,"sent":{"cmd":"play"}}"#
        );
    }
}
