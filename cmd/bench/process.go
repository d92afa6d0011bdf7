package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/procstat"
)

// process is a server the harness started and will stop.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string // where its output goes
	url  string // http://127.0.0.1:port
	done chan struct{}
	err  error // how it ended, once done is closed
}

// startProcess runs argv with env (nothing else of this process's environment) in dir, its output
// to logPath, and waits until GET url/healthz gets an HTTP answer.
func startProcess(ctx context.Context, name string, argv, env []string, dir, logPath string, port int) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches only the harness, which then
		// stops the server itself, after measuring, and drops the database.
		Setpgid: true,
		// And should the harness die without stopping it, the kernel does.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, url: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitHealthy(ctx, 60*time.Second); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("%s did not start: %w\n--- %s (last lines):\n%s", name, err, logPath, tail(logPath, 20))
	}
	return p, nil
}

func (p *process) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/healthz", nil)
		if resp, err := hc.Do(req); err == nil {
			// Any answer will do: a baseline in verify mode answers /healthz 401 (no token).
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			if p.err == nil {
				return errors.New("it exited")
			}
			return fmt.Errorf("it exited: %w", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no healthy answer within %s", limit)
		}
	}
}

// stats reads the process's /proc entries.
func (p *process) stats() procstat.Proc { return procstat.Of(p.cmd.Process.Pid) }

// stop asks the process to stop (SIGTERM: a graceful shutdown) and kills it if it has not within
// 20 s. It reports an exit other than the one SIGTERM asks for.
func (p *process) stop() error {
	select {
	case <-p.done:
		return p.exited()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exited()
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 20 s of SIGTERM; killed", p.name)
	}
}

func (p *process) exited() error {
	var exit *exec.ExitError
	if p.err == nil || (errors.As(p.err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM) {
		return nil
	}
	return fmt.Errorf("%s: %w (log: %s)", p.name, p.err, p.log)
}

// freePort asks the kernel for a port nobody listens on. Another process could take it before
// the server does; on a loopback-only harness run that is unlikely enough.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(b, n)
}
