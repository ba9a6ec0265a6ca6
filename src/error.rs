//! The library's error type. Every message says what happened and what to do next.

/// Exit status for bad usage (wrong options, names, devices).
pub const EXIT_USAGE: i32 = 2;
/// Exit status for a failure while running (device lost, disk error).
pub const EXIT_RUNTIME: i32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asked for something impossible; nothing was touched.
    #[error("{0}")]
    Usage(String),
    /// Something failed while running.
    #[error("{0}")]
    Runtime(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            _ => EXIT_RUNTIME,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
