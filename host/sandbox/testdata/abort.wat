;; abort: calls env.abort as an AssemblyScript plugin does (a failed assert, a throw), with the
;; message chosen by the id of the first timer event of the batch:
;;   1: "boom ✓" at "x.ts":12:5    2: a message pointer outside memory
;;   3: a message that claims 2 GiB  4: a message pointer below 4, no file
;; An AssemblyScript string is UTF-16LE, its byte length in the u32 before it.
(module
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (memory (export "memory") 3)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (data (i32.const 0x100) "\0c\00\00\00" "b\00o\00o\00m\00 \00\13\27")
  (data (i32.const 0x200) "\08\00\00\00" "x\00.\00t\00s\00")
  (data (i32.const 0x300) "\ff\ff\ff\7f" "A\00A\00A\00A\00")
  (func (export "stratbox_abi_v1_0"))
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32) (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $id i32)
    (local.set $id (i32.load (i32.const 0x10008)))
    (if (i32.eq (local.get $id) (i32.const 1))
      (then (call $abort (i32.const 0x104) (i32.const 0x204) (i32.const 12) (i32.const 5))))
    (if (i32.eq (local.get $id) (i32.const 2))
      (then (call $abort (i32.const 0xFFFFFFF0) (i32.const 0) (i32.const 0) (i32.const 0))))
    (if (i32.eq (local.get $id) (i32.const 3))
      (then (call $abort (i32.const 0x304) (i32.const 0) (i32.const 0) (i32.const 0))))
    (if (i32.eq (local.get $id) (i32.const 4))
      (then (call $abort (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 0))))
    (i32.const 0)))
