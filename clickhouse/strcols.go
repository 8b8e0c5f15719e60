package clickhouse

import (
	"reflect"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// String columns without regrowth.
//
// A spans batch carries megabytes of text per column (20,000 rows of
// prompts and answers). clickhouse-go appends each value to a fresh
// ch-go ColStr, which grows by doubling: every batch allocated, zeroed and
// copied its text buffers several times over — in a profile of `bench
// ingest`, ColStr growth was about half of the insert's CPU and an eighth
// of the whole writer's. clickhouse-go has no way to size a batch's
// column, so strColumns reaches the ColStr inside a *column.String and
// hands it buffers of the right size, taken from a free list and returned
// after the batch is sent (clickhouse-go keeps no reference to a batch's
// block after Send or Abort returns).
//
// The free list is not a sync.Pool: a batch is inserted every few tenths
// of a second and the garbage collector, which empties a sync.Pool within
// two cycles, ran about as often, so nearly every batch allocated its
// buffers afresh (2 GB of the 25 GB allocated in a 15 s closed loop of
// `bench ingest`, 2026-12-06). It keeps strFreeSets sets, and a buffer is
// made a quarter larger than asked, so that batches a little larger than
// the last reuse it.
//
// Reaching an unexported field is guarded: the field's name and type are
// checked by reflection once (strColOffset), and when clickhouse-go's
// String no longer has a `col proto.ColStr` the reservation is skipped and
// appends grow as before — slower, never wrong. TestStrColumnsReserve
// fails if that happens, so an upgrade notices.

// strColOffset is the offset of column.String's ColStr, -1 when the layout
// is not the expected one.
var strColOffset = func() uintptr {
	f, ok := reflect.TypeFor[column.String]().FieldByName("col")
	if !ok || f.Type != reflect.TypeFor[proto.ColStr]() {
		return ^uintptr(0)
	}
	return f.Offset
}()

func colStr(c column.Interface) *proto.ColStr {
	s, ok := c.(*column.String)
	if !ok || strColOffset == ^uintptr(0) {
		return nil
	}
	return (*proto.ColStr)(unsafe.Add(unsafe.Pointer(s), strColOffset))
}

// strBuf is one column's reusable storage.
type strBuf struct {
	buf []byte
	pos []proto.Position
}

// maxPooledBytes bounds what a pooled buffer keeps between batches, so one
// huge batch does not pin its memory for the life of the process.
const maxPooledBytes = 64 << 20

// strFreeSets is how many batches' buffers the free list keeps: two
// inserts at once is the default (writer.inserts), and the baseline of
// `bench ingest` inserts beside nothing else.
const strFreeSets = 2

var strFree = make(chan *strColumns, strFreeSets)

// strColumns is the reusable storage of one batch's String columns.
type strColumns struct {
	cols []*proto.ColStr
	bufs []strBuf
}

// reserveStrColumns sizes the String columns of a batch before its values
// are appended: cols are the batch's columns, vals the values each will
// get (those of a String column as a []string). Release returns the
// buffers; call it after Send or Abort.
func reserveStrColumns(cols []column.Interface, vals []any) *strColumns {
	var sc *strColumns
	select {
	case sc = <-strFree:
	default:
		sc = new(strColumns)
	}
	sc.cols = sc.cols[:0]
	bufs := sc.bufs[:0]
	for i, v := range vals {
		ss, ok := v.([]string)
		if !ok || i >= len(cols) {
			continue
		}
		c := colStr(cols[i])
		if c == nil || len(c.Pos) != 0 {
			continue
		}
		n := 0
		for _, s := range ss {
			n += len(s)
		}
		var b strBuf
		if k := len(bufs); k < cap(bufs) {
			b = bufs[:k+1][k]
		}
		if cap(b.buf) < n {
			b.buf = make([]byte, 0, n+n/4)
		}
		if cap(b.pos) < len(ss) {
			b.pos = make([]proto.Position, 0, len(ss)+len(ss)/4)
		}
		c.Buf, c.Pos = b.buf[:0], b.pos[:0]
		bufs = append(bufs, b)
		sc.cols = append(sc.cols, c)
	}
	sc.bufs = bufs
	return sc
}

// release takes the (possibly grown) buffers back into the free list.
func (sc *strColumns) release() {
	for i, c := range sc.cols {
		b := strBuf{buf: c.Buf[:0], pos: c.Pos[:0]}
		if cap(b.buf) > maxPooledBytes {
			b.buf = nil
		}
		sc.bufs[i] = b
		c.Buf, c.Pos = nil, nil
		sc.cols[i] = nil
	}
	select {
	case strFree <- sc:
	default:
	}
}
