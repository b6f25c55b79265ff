//! The stratbox Rust SDK: write a stratbox strategy in Rust (std only, Rust
//! 1.63 or later), build it for `wasm32-unknown-unknown`, and run it in the
//! stratbox host. The same shape as the Go SDK (`plugins/sdk/go`):
//! implement [`Strategy`] (every method has a default), queue intents
//! through the [`Context`], and export the plugin with one macro:
//!
//! ```ignore
//! use stratbox::{abi, Context, Strategy};
//!
//! #[derive(Default)]
//! struct Mine;
//!
//! impl Strategy for Mine {
//!     fn on_ticker(&mut self, ctx: &mut Context, t: &abi::Ticker) { /* … */ }
//! }
//!
//! stratbox::export_strategy!(Mine);
//! ```
//!
//! The ABI is abi/README.md of the stratbox repository. What the SDK does
//! for you: the version marker, the buffers and their descriptor (a 256 KiB
//! inbox, a 64 KiB outbox), decoding the start-up blob and each batch
//! (unknown kinds skipped, a record that cannot be read answered with -2),
//! cids and sequence numbers, the reserved room for a `cancel_all` in a
//! full outbox, and a panic's message in the host's log before the trap.
//! After `init` it allocates nothing per event.
//!
//! In a native build (`cargo test`) the host functions are a fake host in
//! the test's thread and [`testing::Harness`] runs a strategy through the
//! same runner as the plugin.

pub mod abi;
mod book;
mod context;
pub mod fixed;
mod host;
mod params;
mod runner;
mod strategy;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use abi::Fixed;
pub use book::OrderBook;
pub use context::{Context, Order, Status, ALL_INSTRUMENTS};
pub use params::{parse_duration, Params};
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub use runner::rt as __rt;
pub use runner::Runner;
pub use strategy::Strategy;

/// The inbox capacity: as the Go SDK's, any batch the host may send.
pub const INBOX_CAP: usize = 256 << 10;
/// The outbox capacity: 800 places.
pub const OUTBOX_CAP: usize = 64 << 10;

/// Nanoseconds in a millisecond, a second, a minute: durations are `i64` ns.
pub const MILLISECOND: i64 = 1_000_000;
pub const SECOND: i64 = 1_000_000_000;
pub const MINUTE: i64 = 60 * SECOND;

/// Defines the plugin's wasm exports (abi/README.md §4) for a strategy
/// type: `stratbox_abi_v1_0`, `stratbox_buffers`, `stratbox_init`,
/// `stratbox_on_events` and `stratbox_on_stop`. Use it once, in the crate
/// (`crate-type = ["cdylib"]`) built for `wasm32-unknown-unknown`:
///
/// ```ignore
/// stratbox::export_strategy!(Taker);                 // Taker: Strategy + Default
/// stratbox::export_strategy!(Taker, Taker::new(10)); // or an expression
/// ```
///
/// The strategy is made when the host first calls the plugin. In a native
/// build the macro defines nothing.
#[macro_export]
macro_rules! export_strategy {
    ($t:ty) => {
        $crate::export_strategy!($t, <$t as ::core::default::Default>::default());
    };
    ($t:ty, $make:expr) => {
        #[cfg(target_arch = "wasm32")]
        mod __stratbox_exports {
            use super::*;
            // Boxed: None is then all zeros, so the static takes no room in
            // the module whatever the size of the strategy.
            static mut RUNNER: ::core::option::Option<::std::boxed::Box<$crate::Runner<$t>>> = ::core::option::Option::None;
            fn slot() -> &'static mut ::core::option::Option<::std::boxed::Box<$crate::Runner<$t>>> {
                // SAFETY: one thread, and the host never calls exports concurrently.
                unsafe { &mut *::core::ptr::addr_of_mut!(RUNNER) }
            }
            #[no_mangle]
            pub extern "C" fn stratbox_abi_v1_0() {}
            #[no_mangle]
            pub extern "C" fn stratbox_buffers() -> u32 {
                $crate::__rt::stratbox_buffers(slot(), || $make)
            }
            #[no_mangle]
            pub extern "C" fn stratbox_init(n: i32) -> i32 {
                $crate::__rt::stratbox_init(slot(), || $make, n)
            }
            #[no_mangle]
            pub extern "C" fn stratbox_on_events(n: i32) -> i32 {
                $crate::__rt::stratbox_on_events(slot(), n)
            }
            #[no_mangle]
            pub extern "C" fn stratbox_on_stop() -> i32 {
                $crate::__rt::stratbox_on_stop(slot())
            }
        }
    };
}
