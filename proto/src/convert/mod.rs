//! The one place where agentmux.v1 messages and domain types are converted, per resource.
//! The daemon's store and journal encode domain values through these too, so they are also
//! the on-disk format (see `wire.lock`).

/// `From` both ways between a domain struct and its wire message whose fields match by name:
/// `plain` fields move as they are, `lists` are `Vec`s of mirrored types.
macro_rules! mirror {
    ($shared:ident <=> $wire:ident { $($f:ident),* $(,)? } $(lists { $($l:ident),* $(,)? })?) => {
        impl From<$shared> for $crate::v1::$wire {
            fn from(v: $shared) -> Self {
                $crate::v1::$wire {
                    $($f: v.$f,)*
                    $($($l: v.$l.into_iter().map(Into::into).collect(),)*)?
                }
            }
        }
        impl From<$crate::v1::$wire> for $shared {
            fn from(v: $crate::v1::$wire) -> Self {
                $shared {
                    $($f: v.$f,)*
                    $($($l: v.$l.into_iter().map(Into::into).collect(),)*)?
                }
            }
        }
    };
}

mod approval;
mod event;
mod files;
mod provider;
mod session;
mod system;
mod terminal;
mod workflow;
mod workspace;

#[cfg(test)]
mod tests;

use agentmux_shared::error::{Error, Result};

/// An enum field's value, or `None` when unset; a number this build does not know is an error.
pub(crate) fn known<T: TryFrom<i32>>(what: &str, v: i32) -> Result<Option<T>> {
    if v == 0 {
        return Ok(None);
    }
    T::try_from(v)
        .map(Some)
        .map_err(|_| Error::invalid(format!("unknown {what} {v}")))
}
