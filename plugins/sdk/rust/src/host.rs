//! The host functions of module "stratbox" (abi/README.md §5). In a wasm32
//! build they are the plugin's imports; in a native build (`cargo test`)
//! they are a fake host in this thread ([`crate::testing`]), so that a
//! strategy runs under `cargo test` through the same code path.

#[cfg(target_arch = "wasm32")]
mod imp {
    #[link(wasm_import_module = "stratbox")]
    extern "C" {
        #[link_name = "log"]
        fn host_log(level: i32, ptr: *const u8, len: i32) -> i32;
        #[link_name = "now"]
        fn host_now() -> i64;
        #[link_name = "set_timer"]
        fn host_set_timer(id: i32, after_ns: i64) -> i32;
        #[link_name = "cancel_timer"]
        fn host_cancel_timer(id: i32) -> i32;
    }

    pub fn log(level: i32, msg: &[u8]) -> i32 {
        // SAFETY: the host reads [ptr, ptr+len) during the call only.
        unsafe { host_log(level, msg.as_ptr(), msg.len() as i32) }
    }
    pub fn now() -> i64 {
        unsafe { host_now() }
    }
    pub fn set_timer(id: u32, after_ns: i64) -> i32 {
        unsafe { host_set_timer(id as i32, after_ns) }
    }
    pub fn cancel_timer(id: u32) -> i32 {
        unsafe { host_cancel_timer(id as i32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::testing::FAKE;

    pub fn log(level: i32, msg: &[u8]) -> i32 {
        if !(0..=3).contains(&level) {
            return crate::abi::STATUS_BAD_ARGUMENT;
        }
        FAKE.with(|h| h.borrow_mut().logs.push((level, String::from_utf8_lossy(msg).into_owned())));
        0
    }
    pub fn now() -> i64 {
        FAKE.with(|h| h.borrow().now)
    }
    pub fn set_timer(id: u32, after_ns: i64) -> i32 {
        FAKE.with(|h| {
            let mut h = h.borrow_mut();
            if h.timers.len() >= 256 && !h.timers.contains_key(&id) {
                return crate::abi::STATUS_LIMIT;
            }
            // As the host: raised to the minimum interval, saturated at the
            // last representable ns (such a timer never fires).
            let due = h.now.saturating_add(after_ns.max(h.timer_min).max(0));
            h.timers.insert(id, due);
            0
        })
    }
    pub fn cancel_timer(id: u32) -> i32 {
        FAKE.with(|h| match h.borrow_mut().timers.remove(&id) {
            Some(_) => 0,
            None => crate::abi::STATUS_NOT_FOUND,
        })
    }
}

pub use imp::*;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::{with_host, DEFAULT_TIMER_MIN};

    #[test]
    fn set_timer_raises_short_delays_to_the_minimum() {
        with_host(|h| {
            h.now = 1_000;
            h.timers.clear();
        });
        for (id, after, want) in [
            (1, 0, 1_000 + DEFAULT_TIMER_MIN),
            (2, -5, 1_000 + DEFAULT_TIMER_MIN),
            (3, DEFAULT_TIMER_MIN - 1, 1_000 + DEFAULT_TIMER_MIN),
            (4, 5_000_000, 1_000 + 5_000_000),
            (5, i64::MAX, i64::MAX),
        ] {
            assert_eq!(set_timer(id, after), 0);
            assert_eq!(with_host(|h| h.timers[&id]), want, "after_ns {}", after);
        }
        with_host(|h| h.timer_min = 0);
        assert_eq!(set_timer(6, -5), 0);
        assert_eq!(with_host(|h| h.timers[&6]), 1_000);
        with_host(|h| h.timer_min = DEFAULT_TIMER_MIN);
    }
}
