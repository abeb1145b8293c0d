"""Small bridges with one realistic defect each; the compliance suite must catch every one.

``base`` is the correct control; each other module breaks it in one place (marked "the
defect") and exposes ``create_bridge(*, connection_manager, orchestrator)``:

=========================  =================================================  ==========
module                     defect                                             family
=========================  =================================================  ==========
run_id_fallback            unresolvable run -> sent to a thread named run id  resolution
split_thread_parsing       thread parsed with ``split("_")[1]``               resolution
optional_orchestrator      ``orchestrator=None`` accepted, check skipped      failfast
unbounded_health_check     health check awaited without a timeout             failfast
no_buffering               kept for replay only when delivered                replay
duplicates_on_reconnect    replay from ``seq >= after_seq``                   replay
swallowed_send_errors      send exception swallowed, event dropped            delivery
cross_thread_broadcast     every event sent to every thread seen              isolation
=========================  =================================================  ==========

Run one: ``wsbridge check examples.broken_bridges.run_id_fallback:create_bridge``.
"""
