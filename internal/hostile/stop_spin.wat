;; does: behaves in every call but stratbox_on_stop, where it spins forever.
;; host must: stop the call at its budget (or the stop timeout), count the fault like any other (stats,
;;   metrics and the run's summary: it was once logged while the summary said "no faults"), and still
;;   cancel the plugin's orders.
(module
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32) (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32) (i32.const 0))
  (func (export "stratbox_on_stop") (result i32) (loop $spin (br $spin)) (i32.const 0))
)
