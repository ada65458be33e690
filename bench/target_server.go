// A loopback target server for bench/bench.ts: N virtual targets, one path
// each (/t/<id>), answering after a fixed delay with a fixed status and body
// size (query parameters delay=, status=, size= override per request).
//
// It records when each request arrived, so that the benchmark can count
// checks and measure their lateness against the schedule from the target's
// side, the same way for every exporter. It reports its own CPU time so that
// a saturated target server cannot be mistaken for a slow exporter.
//
// Written in Go (stdlib only) because it must stay well below one core at
// thousands of new connections per second. Listens on 127.0.0.1 only.
//
// Endpoints:
//
//	/t/<id>             a target
//	/__stats?since=<ms> JSON: own CPU, arrivals since <ms> (Unix ms), delay overshoot
//	/__healthy          200
//
// Build and run: go build -o /tmp/ts bench/target_server.go && /tmp/ts -port 0
// It prints "LISTEN <port>[,<port>...]" on stdout once listening, and exits
// when stdin closes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type arrival struct {
	id int32
	at int64 // Unix ns
}

var (
	mu        sync.Mutex
	arrivals  []arrival
	overshoot []float64 // ms the handler slept beyond the delay
	requests  int64
)

// Keeps memory bounded: a run is at most this many requests recorded.
const maxRecorded = 20_000_000

func cpuSeconds() (user, sys float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6,
		float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
}

func main() {
	port := flag.Int("port", 0, "first port on 127.0.0.1 (0: any free ports)")
	ports := flag.Int("ports", 1, "listen on this many ports (the benchmark spreads targets over them so that 2,000 new connections/s do not run out of ephemeral ports to one address)")
	delay := flag.Duration("delay", 50*time.Millisecond, "default delay before answering")
	status := flag.Int("status", 200, "default status code")
	size := flag.Int("size", 0, "default body size in bytes")
	flag.Parse()

	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = 'x'
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/t/", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/t/"))
		if err != nil {
			http.Error(w, "bad target id", 400)
			return
		}
		d, st, sz := *delay, *status, *size
		if r.URL.RawQuery != "" {
			q := r.URL.Query()
			if v, err := time.ParseDuration(q.Get("delay")); err == nil {
				d = v
			}
			if v, err := strconv.Atoi(q.Get("status")); err == nil {
				st = v
			}
			if v, err := strconv.Atoi(q.Get("size")); err == nil && v >= 0 && v <= len(body) {
				sz = v
			}
		}
		if d > 0 {
			time.Sleep(d)
		}
		over := float64(time.Since(now)-d) / 1e6
		mu.Lock()
		requests++
		if len(arrivals) < maxRecorded {
			arrivals = append(arrivals, arrival{int32(id), now.UnixNano()})
			overshoot = append(overshoot, over)
		}
		mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", strconv.Itoa(sz))
		w.WriteHeader(st)
		w.Write(body[:sz])
	})
	mux.HandleFunc("/__healthy", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "OK\n")
	})
	mux.HandleFunc("/__stats", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		sinceNs := since * 1_000_000
		user, sys := cpuSeconds()
		mu.Lock()
		// Arrivals as [id, Unix ms with µs precision] of requests that arrived since `since`.
		list := make([][2]float64, 0, 1024)
		over := make([]float64, 0, 1024)
		for i, a := range arrivals {
			if a.at >= sinceNs {
				list = append(list, [2]float64{float64(a.id), float64(a.at/1000) / 1000})
				over = append(over, overshoot[i])
			}
		}
		total := requests
		mu.Unlock()
		sort.Float64s(over)
		pick := func(q float64) float64 {
			if len(over) == 0 {
				return 0
			}
			return over[int(q*float64(len(over)-1))]
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"cpu_user_seconds":   user,
			"cpu_system_seconds": sys,
			"requests_total":     total,
			"arrivals":           list,
			"overshoot_ms":       map[string]float64{"p50": pick(0.5), "p99": pick(0.99), "max": pick(1)},
		})
	})

	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
	srv.Handler = mux
	var listening []string
	for i := 0; i < *ports; i++ {
		p := 0
		if *port != 0 {
			p = *port + i
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		listening = append(listening, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		go func() {
			if err := srv.Serve(ln); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}()
	}
	fmt.Printf("LISTEN %s\n", strings.Join(listening, ","))
	// Exit when the parent goes away (stdin closes), so no server outlives the benchmark.
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
