import Glibc

// lantern-bench: a WebSocket load generator for Lantern's benchmark (tools/bench.sh).
// Epoll worker threads drive the connections; the main thread sets the measured window,
// samples CPU and RSS, and prints a summary and a `RESULT key=value ...` line.

signal(SIGPIPE, SIG_IGN)
let options = BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))

if options.mode == .dump {
    let pool = Payloads(size: options.size, count: options.pool, binary: options.binary)
    for i in 0..<pool.count { writeLine(String(decoding: pool.payload(i), as: UTF8.self)) }
    exit(0)
}
if options.mode == .zlib { exit(ZlibCost.run(options)) }

var limit = rlimit()
if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = in_port_t(UInt16(options.port).bigEndian)
guard inet_pton(AF_INET, options.host, &address.sin_addr) == 1 else {
    writeLine("lantern-bench: --host must be a numeric IPv4 address\n", to: 2)
    exit(2)
}

let payloads = options.mode == .hold ? nil
    : Payloads(size: options.size, count: options.pool, binary: options.binary)
let control = RunControl()
let pid = options.serverPID
let rssBefore = pid > 0 ? ProcStats.residentKB(pid) : 0

// 1. Share the connections among the workers and start them.
var workers: [Worker] = []
var firstID = 0
for i in 0..<options.threads {
    let count = options.connections / options.threads + (i < options.connections % options.threads ? 1 : 0)
    workers.append(Worker(options: options, control: control, payloads: payloads, address: address,
                          firstID: firstID, count: count, seed: nowNanos() ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(i + 1))))
    firstID += count
}
let began = nowNanos()
var threads: [pthread_t] = []
for worker in workers { threads.append(worker.startThread()) }

// 2. Echo and hold: wait until every connection has finished connecting (or failed).
var connectSeconds = 0.0
if options.mode != .churn {
    while control.readyWorkers.load(ordering: .acquiring) < options.threads { usleep(1000) }
    connectSeconds = Double(nowNanos() - began) / 1e9
}

// 3. The measured window.
var rssAfter = 0
var ownCPU = (0.0, 0.0), serverCPU = (0.0, 0.0)
let windowStart: UInt64, windowEnd: UInt64
let t0 = nowNanos()
if options.mode == .hold {
    windowStart = t0
    windowEnd = t0 + UInt64(options.duration * 1e9)
    control.measureStart.store(windowStart, ordering: .relaxed)
    control.measureEnd.store(windowEnd, ordering: .relaxed)
    control.go.store(true, ordering: .releasing)
    writeLine("READY connect_s=\(format(connectSeconds, 3))")
    sleep(until: t0 + UInt64(min(1.0, options.duration) * 1e9))
    if pid > 0 { rssAfter = ProcStats.residentKB(pid) }
    sleep(until: windowEnd)
} else {
    // Nothing connected (echo): nothing to measure, so finish at once.
    let none = options.mode == .echo && control.established.load(ordering: .relaxed) == 0
    windowStart = t0 + (none ? 0 : UInt64(options.warmup * 1e9))
    windowEnd = windowStart + (none ? 1000 : UInt64(options.duration * 1e9))
    control.measureStart.store(windowStart, ordering: .relaxed)
    control.measureEnd.store(windowEnd, ordering: .relaxed)
    control.go.store(true, ordering: .releasing)
    sleep(until: windowStart)
    ownCPU.0 = ProcStats.ownCPUSeconds()
    if pid > 0 { serverCPU.0 = ProcStats.cpuSeconds(pid) }
    sleep(until: windowEnd)
    ownCPU.1 = ProcStats.ownCPUSeconds()
    if pid > 0 { serverCPU.1 = ProcStats.cpuSeconds(pid) }
}
control.stop.store(true, ordering: .relaxed)
for thread in threads { pthread_join(thread, nil) }

// 4. Sum up and report.
var total = WorkerStats()
for worker in workers { total.add(worker.stats) }
let seconds = Double(windowEnd - windowStart) / 1e9
Report(options: options, stats: total, seconds: seconds, connectSeconds: connectSeconds,
       ownCPUPercent: seconds > 0.01 ? (ownCPU.1 - ownCPU.0) / seconds * 100 : 0,
       serverCPUPercent: pid > 0 ? (serverCPU.1 - serverCPU.0) / seconds * 100 : nil,
       rssBeforeKB: rssBefore, rssAfterKB: rssAfter).print()
let clean = options.mode == .churn
    ? total.cycleErrors + total.unexpected + total.mismatches == 0
    : total.errors == 0 && total.established == options.connections
exit(clean ? 0 : 1)
