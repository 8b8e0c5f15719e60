package chserver

// Merges at the lowest CPU priority.
//
// The embedded ClickHouse shares its cores with everything `chainwatch up`
// runs: the collector, the broker, the writer. Its merges are background
// work that can wait, but a large one takes a whole core for seconds: in a
// traced `bench ingest` (2026-12-06, 19:55 UTC) a merge of 1.13 M rows ran
// for 3.9 s while, on the other core, a 21,000-span insert took 0.95 s, a
// batch waited 1.25 s for it, the collector's answers slowed to 0.6 s and
// received → visible reached 2.0 s, at 80 % of the rate the pipeline had
// sustained. With the merge threads at nice 19 they take what the
// pipeline leaves: three alternating pairs at a fixed 72,000 spans/s
// (`bench ingest -rate 72000 -latency-at 0 -duration 30s
// -baseline-duration 5s`, 20:02–20:07 UTC) had p99 0.65–0.93 s and no
// span unsent, against 1.00–3.37 s and 1,800–6,800 spans the senders
// could not send in time at normal priority. (An earlier try at nice 10
// changed nothing measurable: a nice-10 thread still gets about a tenth of
// a core against one busy thread, a nice-19 one about one seventieth.)
//
// Merges still run whenever a core is idle, and if they fall far behind,
// ClickHouse's own limits on parts (parts_to_delay_insert) slow the
// inserts, which frees the cores for them: postponed, not skipped. Where
// the server has cores to spare the priority changes nothing.
//
// How: every second the child's threads are read from /proc (Linux) and
// those named for merges are reniced — raising one's own threads' nice
// needs no privilege. The names are ClickHouse's pool names as
// pthread_setname_np leaves them in /proc/PID/task/TID/comm: BackgrProcPool
// in 18.16 (checked by TestMergeThreadsRunAtLowestPriority); MergeMutate is
// the executor's name in later releases (from ClickHouse's source, not run
// here). Current releases also have the server setting
// os_threads_nice_value_merge_mutate, applied only with CAP_SYS_NICE; the
// config sets it too, and 18.16 ignores a setting it does not know.

// MergeNice is the nice value of the child's merge threads.
const MergeNice = 19

var mergeThreadNames = []string{"BackgrProcPool", "MergeMutate"}
