package clickhouse

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// The reservation reaches into clickhouse-go's column.String; this fails
// when an upgrade changes its layout (the inserts would still work, but
// regrow their text columns again).
func TestStrColumnsReserve(t *testing.T) {
	if strColOffset == ^uintptr(0) {
		t.Fatal("clickhouse-go's column.String no longer has a `col proto.ColStr` field: strcols.go's reservation is off")
	}
	vals := []any{[]string{"ab", "", "cde"}, []uint32{1, 2, 3}, []string{"x", "yz", "w"}}
	batch := func() (text string, grew bool) {
		cols := []column.Interface{&column.String{}, &column.UInt32{}, &column.String{}}
		sc := reserveStrColumns(cols, vals)
		defer sc.release()
		c := colStr(cols[0])
		if c == nil || cap(c.Buf) < 5 || cap(c.Pos) < 3 {
			t.Fatalf("text column not reserved: %+v", c)
		}
		before := unsafe.SliceData(c.Buf)
		for i, v := range vals {
			if _, err := cols[i].Append(v); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			text += cols[0].Row(i, false).(string) + "|" + cols[2].Row(i, false).(string) + ";"
		}
		return text, unsafe.SliceData(c.Buf) != before
	}
	if text, grew := batch(); text != "ab|x;|yz;cde|w;" || grew {
		t.Fatalf("got %q, regrown %v", text, grew)
	}
	// Batches after the first take their buffers from the pool: what a
	// batch allocates does not grow with its text (clickhouse-go's own
	// per-column null maps are all that is left).
	big := strings.Repeat("prompt and answer ", 256)
	vals = []any{[]string{big, big, big}, []uint32{1, 2, 3}, []string{big, "", big}}
	cols := []column.Interface{&column.String{}, &column.UInt32{}, &column.String{}}
	one := func() {
		sc := reserveStrColumns(cols, vals)
		for i, v := range vals {
			cols[i].Append(v)
		}
		cols[1].Reset()
		sc.release()
	}
	one()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < 50; i++ {
		one()
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 50; per > 1024 {
		t.Errorf("%d bytes allocated a batch of %d text bytes; want the text buffers reused", per, 5*len(big))
	}
}

// The buffers outlive garbage collections (a sync.Pool would not: the
// collector ran about as often as the writer inserted) and serve a batch a
// little larger than the one before.
func TestStrColumnsReusedAcrossGCs(t *testing.T) {
	text := strings.Repeat("an answer ", 8<<10)
	col := []column.Interface{&column.String{}}
	one := func(n int) {
		vals := []any{[]string{text[:n], text[:n/2]}}
		sc := reserveStrColumns(col, vals)
		col[0].Append(vals[0])
		sc.release()
	}
	one(60 << 10)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range 20 {
		runtime.GC()
		runtime.GC()
		one(60<<10 + i*500) // up to 16 % more text than the first
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 20; per > 1024 {
		t.Errorf("%d bytes allocated a batch of about 90 KiB of text; want the buffers reused", per)
	}
}
