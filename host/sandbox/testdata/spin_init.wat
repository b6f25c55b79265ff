(module
  ;; spin_init spins forever in stratbox_init: a start-up that only its
  ;; init budget ends. (spin.wasm with the function indices of its two
  ;; exports swapped: the module below, function for function.)
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func $events (param $n i32) (result i32) (i32.const 0))
  (func $init (param $n i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
  (export "stratbox_init" (func $init))
  (export "stratbox_on_events" (func $events))
)
