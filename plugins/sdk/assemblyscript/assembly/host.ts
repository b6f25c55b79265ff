// The host functions of module "stratbox" (abi/README.md §5).

@external("stratbox", "log")
export declare function hostLog(level: i32, ptr: usize, len: i32): i32;

@external("stratbox", "now")
export declare function hostNow(): i64;

@external("stratbox", "set_timer")
export declare function hostSetTimer(id: u32, afterNs: i64): i32;

@external("stratbox", "cancel_timer")
export declare function hostCancelTimer(id: u32): i32;
