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
            let due = h.now.saturating_add(after_ns.max(0));
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
