//! Domain types shared by the daemon, the client and the transports, one file per resource;
//! their JSON mirrors agentmux.v1 and is the REST wire format.

mod answer;
mod approval;
mod attach;
mod event;
mod files;
mod git;
mod message;
mod provider;
mod session;
mod str_enum;
mod system;
mod terminal;
mod workflow;

pub use approval::*;
pub use attach::*;
pub use event::*;
pub use files::*;
pub use git::*;
pub use message::*;
pub use provider::*;
pub use session::*;
pub use system::*;
pub use terminal::*;
pub use workflow::*;
