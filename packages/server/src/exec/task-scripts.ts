/**
 * The shell side of background tasks: small POSIX `sh` scripts run inside the container (busybox ash
 * and dash alike), and parsers for what they print. A task lives in its own directory,
 * `TASK_ROOT/<task id>/`, on the container's root filesystem (not in the data dir, which is the bot's
 * own): `stdin`, `stdout`, `stderr`, `pid` (the task's process group), `monitor` (the /proc stat line
 * of the process that waits for it), `exit` ("<code> <epoch seconds>", written when it ends) and
 * `timedout`. Processes and files outlive the exec that started them and the Berth server, and end
 * with the container.
 */

export const TASK_ROOT = '/run/berth/tasks';

/**
 * Started by a short exec (argv: dir, timeout seconds or 0, whether stdin follows, the command…).
 * It writes stdin, then starts a monitor in a session of its own and returns at once. The monitor
 * starts the task as a further session (so killing the task's group spares the monitor), waits for
 * it and records how it ended; with a timeout, a watchdog kills the task's group and leaves
 * `timedout` behind. Values reach every nested `sh -c` as positional arguments, never as script text.
 */
export const LAUNCH_SCRIPT = `d=$1; t=$2; i=$3; shift 3
mkdir -p "$d" || exit 70
if [ "$i" = 1 ]; then cat >"$d/stdin" || exit 71; else : >"$d/stdin"; fi
setsid sh -c '
d=$1; t=$2; shift 2
IFS= read -r s </proc/self/stat; printf "%s\\n" "$s" >"$d/monitor"
( IFS=" " read -r p _ </proc/self/stat; echo "$p" >"$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"; exec setsid "$@" ) <"$d/stdin" >"$d/stdout" 2>"$d/stderr" &
p=$!
w=
if [ "$t" -gt 0 ]; then setsid sh -c "sleep \\"\\$1\\"; : >\\"\\$2/timedout\\"; kill -9 -\\"\\$3\\"" berth-watchdog "$t" "$d" "$p" </dev/null >/dev/null 2>&1 & w=$!; fi
wait "$p"; c=$?
if [ -n "$w" ]; then kill -9 "-$w" 2>/dev/null; fi
echo "$c $(date +%s)" >"$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"
' berth-task "$d" "$t" "$@" </dev/null >/dev/null 2>&1 &
exit 0`;

/**
 * For each task id given: what its directory says, one `key value` line each, after `task <id>`.
 * The monitor's stat line is printed as recorded and as /proc has it now, so that a pid reused by
 * another process is not taken for the monitor.
 */
export const STATUS_SCRIPT = `r=$1; shift
for id in "$@"; do
d="$r/$id"
printf 'task %s\\n' "$id"
if [ ! -d "$d" ]; then printf 'missing\\n'; continue; fi
if [ -r "$d/exit" ]; then IFS= read -r e <"$d/exit"; printf 'exit %s\\n' "$e"; fi
if [ -e "$d/timedout" ]; then printf 'timedout\\n'; fi
if [ -r "$d/monitor" ]; then
IFS= read -r m <"$d/monitor"; printf 'monitor %s\\n' "$m"
p=\${m%% *}
if [ -r "/proc/$p/stat" ]; then IFS= read -r n <"/proc/$p/stat"; printf 'now %s\\n' "$n"; fi
fi
done
exit 0`;

/** Kills a task's process group; nothing once it has ended (its pid may be someone else's by then). */
export const KILL_SCRIPT = `d=$1
[ -e "$d/exit" ] && exit 0
i=0
while [ ! -s "$d/pid" ] && [ "$i" -lt 30 ]; do sleep 0.1; i=$((i+1)); done
IFS= read -r p <"$d/pid" || exit 3
kill -9 "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null
exit 0`;

/**
 * A task's output files are in the bot's reach: it may put a FIFO or a symlink where one was, and a
 * read of a FIFO would never end. Only a regular file (not a link) is read; anything else reads as
 * empty.
 */
const REGULAR_FILE = 'reg() { [ -f "$1" ] && [ ! -L "$1" ]; }';

/** Sizes of both streams, then the last `n` bytes of each, base64 (busybox and coreutils both have it). */
export const TAIL_SCRIPT = `d=$1; n=$2
${REGULAR_FILE}
sz() { if reg "$1"; then wc -c <"$1"; else echo 0; fi; }
printf 'size %s %s\\n' "$(sz "$d/stdout")" "$(sz "$d/stderr")"
echo ':stdout'; reg "$d/stdout" && tail -c "$n" "$d/stdout" 2>/dev/null | base64
echo ':stderr'; reg "$d/stderr" && tail -c "$n" "$d/stderr" 2>/dev/null | base64
exit 0`;

/**
 * One stream's size, then up to `n` of its bytes from offset `o`, raw: `size <bytes>\n` and the
 * bytes. Exit 3: the task's directory is gone (its container's root filesystem was replaced).
 */
export const READ_OUTPUT_SCRIPT = `d=$1; s=$2; o=$3; n=$4
${REGULAR_FILE}
[ -d "$d" ] || exit 3
f="$d/$s"
reg "$f" || { echo 'size 0'; exit 0; }
printf 'size %s\\n' "$(wc -c <"$f" 2>/dev/null || echo 0)"
if [ "$o" -gt 0 ]; then tail -c +"$((o + 1))" "$f"; else cat "$f"; fi | head -c "$n"
exit 0`;

/** Parses READ_OUTPUT_SCRIPT's output: the stream's size and at most `max` of its bytes (more is not trusted). */
export function parseOutputRead(raw: Buffer, max: number): { size: number; data: Buffer } | null {
  const nl = raw.indexOf(0x0a);
  if (nl < 0 || nl > 64) return null;
  const m = /^size\s+(\d{1,16})\s*$/.exec(raw.subarray(0, nl).toString('latin1'));
  if (!m) return null;
  const data = raw.subarray(nl + 1);
  return { size: Number(m[1]), data: data.length > max ? data.subarray(0, max) : data };
}

export interface TaskProbe {
  id: string;
  /** The task's directory is gone (the container's root filesystem is not the one it started in). */
  missing: boolean;
  exit: { code: number; finishedAt: string } | null;
  timedOut: boolean;
  /** The monitor that waits for the task is still alive. */
  monitorAlive: boolean;
}

/** Parses STATUS_SCRIPT's output. */
export function parseStatus(text: string): TaskProbe[] {
  const out: TaskProbe[] = [];
  let cur: TaskProbe | null = null;
  let recorded: string | undefined;
  let current: string | undefined;
  const close = () => {
    if (!cur) return;
    cur.monitorAlive = recorded !== undefined && current !== undefined && sameProcess(recorded, current);
    out.push(cur);
  };
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    const key = sp < 0 ? line : line.slice(0, sp);
    const value = sp < 0 ? '' : line.slice(sp + 1);
    if (key === 'task') {
      close();
      cur = { id: value, missing: false, exit: null, timedOut: false, monitorAlive: false };
      recorded = undefined;
      current = undefined;
    } else if (!cur) {
      continue;
    } else if (key === 'missing') {
      cur.missing = true;
    } else if (key === 'exit') {
      const [code, epoch] = value.split(' ').map(Number);
      if (Number.isInteger(code)) cur.exit = { code: code as number, finishedAt: new Date((Number.isFinite(epoch) ? (epoch as number) : 0) * 1000).toISOString() };
    } else if (key === 'timedout') {
      cur.timedOut = true;
    } else if (key === 'monitor') {
      recorded = value;
    } else if (key === 'now') {
      current = value;
    }
  }
  close();
  return out;
}

/** Two /proc/<pid>/stat lines are the same process when pid and start time agree. */
export function sameProcess(a: string, b: string): boolean {
  const start = (line: string): string | undefined => {
    // Fields after the command name (which may hold spaces) start at the last ')': state is the
    // first of them, starttime (field 22 of the line) the 20th.
    const rest = line.slice(line.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  };
  const pid = (line: string) => line.slice(0, line.indexOf(' '));
  const sa = start(a);
  return pid(a) === pid(b) && sa !== undefined && sa === start(b);
}

/** Parses TAIL_SCRIPT's output into both streams' tails (at most the last `max` bytes each) and total sizes. */
export function parseTail(text: string, max = Number.MAX_SAFE_INTEGER): { stdout: Buffer; stderr: Buffer; stdoutBytes: number; stderrBytes: number } {
  const lines = text.split('\n');
  const sizes = /^size\s+(\d+)\s+(\d+)/.exec(lines[0] ?? '');
  const body: Record<'stdout' | 'stderr', string[]> = { stdout: [], stderr: [] };
  let into: 'stdout' | 'stderr' | null = null;
  for (const line of lines.slice(1)) {
    if (line === ':stdout' || line === ':stderr') into = line.slice(1) as 'stdout' | 'stderr';
    else if (into) body[into].push(line.trim());
  }
  const last = (b: Buffer) => (b.length > max ? b.subarray(b.length - max) : b);
  return {
    stdout: last(Buffer.from(body.stdout.join(''), 'base64')),
    stderr: last(Buffer.from(body.stderr.join(''), 'base64')),
    stdoutBytes: Number(sizes?.[1] ?? 0),
    stderrBytes: Number(sizes?.[2] ?? 0),
  };
}
