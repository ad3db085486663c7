/* spaces-hook: the per-tool-call fast path of Spaces' live hooks (docs/live-coordination.md 7).
 *
 *   spaces-hook EVENT AGENT     EVENT: post|batch|pre (every tool call: the fast path)
 *                                      prompt|stop|start|notify|end|wake (always Python)
 *                                      summary (the session summary: always Python, detached)
 *                                      context (SessionStart's peer context: always Python)
 *                               AGENT: claude|codex|gemini
 *
 * Drains stdin (capped at 4 MiB, at most 3 s), takes the session id (the agent's own variable,
 * CLAUDE_CODE_SESSION_ID or GEMINI_SESSION_ID, else the payload's first "session_id"), checks
 * it is [A-Za-z0-9_-]{1,64}, and for post/batch/pre stats the marker files the daemon keeps in
 * the live dir (<session>.inbox; for pre also <session>.lease, which counts only for a call
 * that edits files: edits()). None there: exit 0, no output, no Python. Otherwise (and always for the once-a-turn events) the same stdin goes
 * into a memfd on fd 0 and the Python pending path is exec'd:
 *   SPACES_PYTHON -I -S -c "<boot>" SPACES_PKGDIR EVENT AGENT [SESSION]
 * Work the client need not wait for runs detached (forked into a session of its own, stdout and
 * stderr on /dev/null, SPACES_DETACHED=1): the summary, notify and end always (no output to
 * give), start, prompt and stop when nothing is pending (presence only). The helper itself exits 0 at once.
 * SPACES_HOOK_AT (wall clock, ns) tells Python when the client ran the hook, so presence runs
 * that reach the daemon out of order are told apart. wake in a one-shot `claude -p` (the
 * client's command line: CLAUDE_PID) has nothing to wait for: exit 0 without Python.
 * Any failure (bad id, no python, ...) is exit 0 and silent: a hook never breaks a session.
 * SPACES_PYTHON and SPACES_PKGDIR are fixed at build time (spacesd/fasthook.py). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SPACES_PYTHON
#define SPACES_PYTHON "/usr/bin/python3"
#endif
#ifndef SPACES_PKGDIR
#define SPACES_PKGDIR "."
#endif
#define MAX_STDIN (4u << 20)
#define STDIN_MS 3000
#define BOOT "import sys;sys.path.insert(0,sys.argv[1]);from spacesd.hooks.live import main;main()"

static char *buf;
static size_t len, cap;
static int overflow;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read all of stdin so the client's write never fails; keep at most MAX_STDIN bytes. */
static void drain_stdin(void) {
  char scratch[65536];
  long deadline = now_ms() + STDIN_MS;
  if (isatty(0)) return;
  for (;;) {
    long left = deadline - now_ms();
    struct pollfd p = {0, POLLIN, 0};
    if (left <= 0) return;
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    if (!overflow && len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      if (ncap > MAX_STDIN + 1) ncap = MAX_STDIN + 1;
      char *nb = realloc(buf, ncap);
      if (!nb) overflow = 1; else { buf = nb; cap = ncap; }
    }
    int into_buf = !overflow && len < cap;
    ssize_t n = into_buf ? read(0, buf + len, cap - len) : read(0, scratch, sizeof scratch);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;
    if (into_buf && (len += (size_t)n) > MAX_STDIN) overflow = 1;
  }
}

static int valid_id(const char *s, size_t n) {
  if (n < 1 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* The first "KEY": "..." string of the payload (no escapes), copied into out (n bytes, at
 * most 64 characters); 0 if none, too long or escaped. */
static int str_from_payload(const char *key, char *out, size_t n) {
  char quoted[32];
  int k = snprintf(quoted, sizeof quoted, "\"%s\"", key);
  if (!buf || overflow || k <= 0 || k >= (int)sizeof quoted) return 0;
  const char *p = memmem(buf, len, quoted, (size_t)k), *end = buf + len;
  if (!p) return 0;
  p += k;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (p >= end || *p++ != ':') return 0;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (p >= end || *p++ != '"') return 0;
  const char *q = memchr(p, '"', (size_t)(end - p));
  if (!q || (size_t)(q - p) >= n || memchr(p, '\\', (size_t)(q - p))) return 0;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = 0;
  return 1;
}

/* The first "session_id" of the payload, copied into out (65 bytes); 0 if none/bad. */
static int id_from_payload(char *out) {
  if (str_from_payload("session_id", out, 65) && valid_id(out, strlen(out))) return 1;
  out[0] = 0;
  return 0;
}

/* Whether this tool call may write a file (spacesd/hooks/lease.py: the tools whose paths the
 * lease check reads): Claude Code's and Gemini CLI's edit tools by name, and anything
 * carrying an apply_patch text (Codex, whatever it calls the tool). */
static int edits(void) {
  static const char *const tools[] = {"Write", "Edit", "MultiEdit", "NotebookEdit",
                                      "write_file", "replace", "apply_patch", NULL};
  static const char patch[] = "*** Begin Patch";
  char name[65];
  if (str_from_payload("tool_name", name, sizeof name))
    for (int i = 0; tools[i]; i++)
      if (strcmp(name, tools[i]) == 0) return 1;
  return buf && memmem(buf, len, patch, sizeof patch - 1) != NULL;
}

/* The live dir, as spacesd.paths.live_dir() computes it on Linux. */
static int live_dir(char *out, size_t n) {
  const char *v;
  if ((v = getenv("SPACES_LIVE_DIR")) && *v) return snprintf(out, n, "%s", v) < (int)n;
  if ((v = getenv("SPACES_RUNTIME_DIR")) && *v) return snprintf(out, n, "%s/live", v) < (int)n;
  if ((v = getenv("XDG_RUNTIME_DIR")) && *v)
    return snprintf(out, n, "%s/spacesd/live", v) < (int)n;
  char run[64];
  struct stat st;
  snprintf(run, sizeof run, "/run/user/%u", (unsigned)getuid());
  if (stat(run, &st) == 0 && S_ISDIR(st.st_mode) && access(run, W_OK) == 0)
    return snprintf(out, n, "%s/spacesd/live", run) < (int)n;
  return snprintf(out, n, "/tmp/runtime-%u/spacesd/live", (unsigned)getuid()) < (int)n;
}

static int marker(const char *dir, const char *sid, const char *ext) {
  char path[4096 + 80];
  struct stat st;
  if (snprintf(path, sizeof path, "%s/%s.%s", dir, sid, ext) >= (int)sizeof path) return 0;
  return stat(path, &st) == 0;
}

/* Put the payload on fd 0 (a memfd, else an unlinked temporary file). */
static int stdin_from_buf(void) {
  int fd = -1;
#ifdef MFD_CLOEXEC
  fd = memfd_create("spaces-hook-stdin", 0);
#endif
  if (fd < 0) {
    char tmpl[] = "/tmp/spaces-hook-XXXXXX";
    fd = mkstemp(tmpl);
    if (fd < 0) return -1;
    unlink(tmpl);
  }
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { close(fd); return -1; }
    off += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) { close(fd); return -1; }
  if (fd != 0) {
    if (dup2(fd, 0) < 0) { close(fd); return -1; }
    close(fd);
  }
  return 0;
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Go on in a child of a new session with stdout/stderr on /dev/null; the parent exits 0 so
 * the client goes on at once. A failed fork runs the work inline (slower, never lost). */
static void detach(void) {
  pid_t pid = fork();
  if (pid > 0) _exit(0);
  if (pid < 0) return;
  setsid();
  int fd = open("/dev/null", O_RDWR);
  if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); if (fd > 2) close(fd); }
  setenv("SPACES_DETACHED", "1", 1);
}

/* Claude Code run as `claude -p` without stream-json input (live.py's one_shot): it ends
 * after the turn, so the asyncRewake waiter has nobody to wake. */
static int one_shot(void) {
  const char *pid = getenv("CLAUDE_PID");
  char path[64], cmd[65536];
  if (!pid || !*pid || strspn(pid, "0123456789") != strlen(pid) || strlen(pid) > 12) return 0;
  snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, cmd, sizeof cmd - 1);
  close(fd);
  if (n <= 0) return 0;
  cmd[n] = 0;
  int printing = 0, streaming = 0, fmt = 0;
  for (char *a = cmd; a < cmd + n; a += strlen(a) + 1) {
    if (is(a, "-p") || is(a, "--print")) printing = 1;
    if (is(a, "--input-format=stream-json") || (fmt && is(a, "stream-json"))) streaming = 1;
    fmt = is(a, "--input-format");
  }
  return printing && !streaming;
}

int main(int argc, char **argv) {
  if (argc < 3) return 0;
  const char *event = argv[1], *agent = argv[2];
  /* post, batch, pre: every tool call, Python only when a marker says so; the others run
   * once per turn or less and always go to Python (presence, the waiter). */
  int marked = is(event, "post") || is(event, "batch") || is(event, "pre");
  if (!marked && !is(event, "prompt") && !is(event, "stop") && !is(event, "start") &&
      !is(event, "notify") && !is(event, "end") && !is(event, "wake") && !is(event, "summary") &&
      !is(event, "context"))
    return 0;
  if (is(event, "wake") && is(agent, "claude") && one_shot()) return 0;
  drain_stdin();
  if (overflow) return 0; /* the Python path would refuse it as well */
  char sid[65] = "", dir[4096];
  const char *env = is(agent, "claude") ? getenv("CLAUDE_CODE_SESSION_ID")
                    : is(agent, "gemini") ? getenv("GEMINI_SESSION_ID")
                                          : NULL;
  if (env && *env) {
    if (valid_id(env, strlen(env))) snprintf(sid, sizeof sid, "%s", env);
  } else {
    id_from_payload(sid);
  }
  if (marked) {
    if (!*sid || !live_dir(dir, sizeof dir)) return 0;
    /* pre: the lease marker (another participant holds a lease in this session's project)
     * matters only to a call that edits files */
    if (!marker(dir, sid, "inbox") && !(is(event, "pre") && marker(dir, sid, "lease") && edits()))
      return 0;
  }
  if (stdin_from_buf() != 0) return 0;
  char at[32];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(at, sizeof at, "%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  setenv("SPACES_HOOK_AT", at, 1);
  /* summary: a ticket made before the client goes on, so a later run of the same session
   * (SessionEnd right after Stop) waits for this one (session.py, main_detached) */
  if (is(event, "summary") && *sid && live_dir(dir, sizeof dir)) {
    char ticket[4096 + 128];
    if (snprintf(ticket, sizeof ticket, "%s/%s.sum-%s", dir, sid, at) < (int)sizeof ticket) {
      int fd = open(ticket, O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (fd < 0 && errno == ENOENT && mkdir(dir, 0700) == 0)
        fd = open(ticket, O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (fd >= 0) {
        close(fd);
        setenv("SPACES_SUMMARY_TICKET", ticket, 1);
      }
    }
  }
  /* notify and end only tell presence; start, prompt and stop deliver when something is
   * pending */
  if (is(event, "summary") || is(event, "notify") || is(event, "end") ||
      ((is(event, "start") || is(event, "prompt") || is(event, "stop")) && *sid &&
       live_dir(dir, sizeof dir) && !marker(dir, sid, "inbox")))
    detach();
  char *args[] = {(char *)SPACES_PYTHON, (char *)"-I", (char *)"-S", (char *)"-c", (char *)BOOT,
                  (char *)SPACES_PKGDIR, (char *)event, (char *)agent, sid, NULL};
  if (!*sid) args[8] = NULL;
  execv(SPACES_PYTHON, args);
  return 0; /* no python: nothing to do, silently */
}
