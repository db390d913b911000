package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// swarmRingPort is where each agent's namespace listens in the floor round (--floor).
const swarmRingPort = 16200

// ringDialWindow is how long a ring host keeps dialling the next one after the start instant:
// every host is started before it, but one that is slow to start may not be listening yet.
const ringDialWindow = 5 * time.Second

// ringBuffer is the size of each read and write of the floor round: big enough that the
// per-call cost is small against the kernel's per-byte cost it measures.
const ringBuffer = 64 << 10

// RunRing is one host of the swarm benchmark's floor round (`docket bench ring`): it listens
// on listen and, from at, sends size bytes over one plain TCP connection to the host at to
// while reading size bytes from the one connection made to it. It prints the seconds from at
// until both are done. The hosts of a ring each send and receive size bytes at once, as every
// agent of a swarm does, with nothing else: no protocol, no disk, no hashing.
func RunRing(ctx context.Context, listen, to string, size int64, at time.Time, out io.Writer) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()

	recvd := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			recvd <- err
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		n, err := io.CopyBuffer(io.Discard, c, make([]byte, ringBuffer))
		if err == nil && n != size {
			err = fmt.Errorf("received %d bytes, want %d", n, size)
		}
		recvd <- err
	}()

	select {
	case <-time.After(time.Until(at)):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ringSend(ctx, to, size); err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	if err := <-recvd; err != nil {
		return fmt.Errorf("receive on %s: %w", listen, err)
	}
	_, err = fmt.Fprintf(out, "%.4f\n", time.Since(at).Seconds())
	return err
}

// ringSend dials to, retrying while it refuses for up to ringDialWindow, and writes size
// zero bytes to it.
func ringSend(ctx context.Context, to string, size int64) error {
	var d net.Dialer
	deadline := time.Now().Add(ringDialWindow)
	var c net.Conn
	for {
		var err error
		if c, err = d.DialContext(ctx, "tcp", to); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := make([]byte, ringBuffer)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := c.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	// Closing sends FIN after the data; the receiver's count tells whether all of it arrived.
	if tc, ok := c.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// floorRound runs RunRing in every agent's namespace at once, agent i sending to agent i+1
// (the last to the first), and returns each agent's seconds. Every host then sends and
// receives Size bytes through the same shapers, veths and bridge as in the swarm: the times
// are what the shaped network itself allows, the floor under any swarm's.
func floorRound(ctx context.Context, o SwarmOptions, h *swarmHosts) ([]float64, error) {
	ringAddr := func(i int) (string, error) {
		host, _, err := net.SplitHostPort(h.agentAddr(i % o.Agents))
		return net.JoinHostPort(host, strconv.Itoa(swarmRingPort)), err
	}
	at, timeout := o.roundTiming(1)
	cmds := make([][]string, o.Agents)
	for i := range o.Agents {
		to, err := ringAddr(i + 1)
		if err != nil {
			return nil, err
		}
		cmds[i] = h.inAgentNS(i, o.DocketBin, "bench", "ring",
			"--at", strconv.FormatInt(at.UnixNano(), 10), "--listen", ":"+strconv.Itoa(swarmRingPort),
			"--to", to, "--size", strconv.FormatInt(o.Size, 10))
	}
	times, err := runEach(ctx, timeout, cmds)
	if err != nil {
		return nil, fmt.Errorf("floor round: %w", err)
	}
	if slices.Contains(times, 0) {
		return nil, errors.New("floor round: a host reported no time")
	}
	return times, nil
}
