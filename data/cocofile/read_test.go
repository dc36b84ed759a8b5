package cocofile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadDatasetErrors(t *testing.T) {
	const head = `{"images":[{"id":1,"width":10,"height":10}],"categories":[{"id":1,"name":"a"}],"annotations":[`
	cases := []struct {
		name, in, want string
	}{
		{"not json", `hello`, `unexpected 'h'`},
		{"empty", ``, `unexpected end of input`},
		{"missing list", `{"images":[],"categories":[]}`, `missing "annotations"`},
		{"bad bbox length", head + `{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3],"area":1}]}`, `annotations[0] (id 1): bbox: want exactly 4 numbers`},
		{"negative size", head + `{"id":7,"image_id":1,"category_id":1,"bbox":[1,2,-3,4],"area":1}]}`, `annotations[0] (id 7): bbox: negative size`},
		{"unknown image", head + `{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":1},{"id":2,"image_id":9,"category_id":1,"bbox":[1,2,3,4],"area":1}]}`, `annotations[1] (id 2): image_id: no image 9`},
		{"unknown category", head + `{"id":1,"image_id":1,"category_id":4,"bbox":[1,2,3,4],"area":1}]}`, `annotations[0] (id 1): category_id: no category 4`},
		{"duplicate id", head + `{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":1},{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":1}]}`, `annotations[1]: id: duplicate id 1`},
		{"missing area", head + `{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4]}]}`, `annotations[0]: missing field "area"`},
		{"bad iscrowd", head + `{"id":3,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":1,"iscrowd":2}]}`, `annotations[0] (id 3): iscrowd: 2 is not 0 or 1`},
		{"fractional id", head + `{"id":1.5,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":1}]}`, `annotations[0]: id: 1.5 is not an integer`},
		{"string area", head + `{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":"big"}]}`, `annotations[0] (id 1): area: byte`},
		{"trailing garbage", head + `]} x`, `after the top-level value`},
		{"leading zero", head + `{"id":01}]}`, `bad number "01"`},
		{"duplicate image", `{"images":[{"id":1},{"id":1}],"categories":[],"annotations":[]}`, `images[1]: id: duplicate id 1`},
		{"duplicate field", `{"images":[{"id":1,"id":2}],"categories":[],"annotations":[]}`, `images[0]: duplicate field "id"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadDataset(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestReadResultsErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"object", `{}`, `results: byte 0: unexpected '{'`},
		{"missing score", `[{"image_id":1,"category_id":1,"bbox":[1,2,3,4]}]`, `results[0]: missing field "score"`},
		{"nan", `[{"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":NaN}]`, `results[0]: score: byte`},
		{"huge", `[{"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":1e999}]`, `results[0]: score: byte 56: number 1e999 out of range`},
		{"second record", `[{"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":1},{"image_id":1,"category_id":1,"bbox":[1,2,3,-4],"score":1}]`, `results[1]: bbox: negative size`},
		{"unterminated", `[{"image_id":1`, `results[0]: byte 14: unexpected end of input`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadResults(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// garbage is an endless stream of non-JSON bytes that counts what is read.
type garbage struct{ n int64 }

func (g *garbage) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "x{]\x00"[i%4]
	}
	g.n += int64(len(p))
	return len(p), nil
}

// deep is `{"info":` followed by '[' up to 1 GB, counting what is read.
type deep struct{ n int64 }

func (d *deep) Read(p []byte) (int, error) {
	if d.n >= 1<<30 {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = '['
	}
	if d.n == 0 {
		copy(p, `{"info":`)
	}
	d.n += int64(len(p))
	return len(p), nil
}

func TestGarbageRefusedEarly(t *testing.T) {
	g := &garbage{}
	if _, err := ReadDataset(g); err == nil {
		t.Fatal("garbage accepted")
	}
	if g.n > 1<<20 {
		t.Fatalf("read %d bytes of garbage before refusing it", g.n)
	}
	g = &garbage{}
	if _, err := ReadResults(g); err == nil {
		t.Fatal("garbage accepted")
	}
	if g.n > 1<<20 {
		t.Fatalf("read %d bytes of garbage before refusing it", g.n)
	}
	d := &deep{}
	if _, err := ReadDataset(d); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Fatalf("deep nesting: %v", err)
	}
	if d.n > 1<<20 {
		t.Fatalf("read %d bytes before refusing deep nesting", d.n)
	}
}

func TestSizeLimit(t *testing.T) {
	var buf bytes.Buffer
	_, rs := Synthetic(3, 20, 50, 5)
	if err := WriteResults(&buf, rs); err != nil {
		t.Fatal(err)
	}
	if _, err := readResults(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatalf("file at the limit: %v", err)
	}
	_, err := readResults(bytes.NewReader(buf.Bytes()), int64(buf.Len()-1))
	if !errors.Is(err, errLimit) {
		t.Fatalf("file over the limit: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	gt, dt := Synthetic(7, 30, 40, 6)
	gt.Annotations[0].Segmentation = []byte(`[[1,2,3,4,5,6]]`)
	gt.Info = []byte(`{"year":2017,"note":"esc\"aped"}`)
	dir := t.TempDir()
	if err := WriteDatasetFile(filepath.Join(dir, "gt.json"), gt); err != nil {
		t.Fatal(err)
	}
	if err := WriteResultsFile(filepath.Join(dir, "dt.json"), dt); err != nil {
		t.Fatal(err)
	}
	gt2, err := ReadDatasetFile(filepath.Join(dir, "gt.json"))
	if err != nil {
		t.Fatal(err)
	}
	dt2, err := ReadResultsFile(filepath.Join(dir, "dt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gt2.Annotations) != len(gt.Annotations) || len(dt2) != len(dt) || len(gt2.Images) != len(gt.Images) {
		t.Fatal("lengths differ after a round trip")
	}
	for i := range gt.Annotations {
		a, b := gt.Annotations[i], gt2.Annotations[i]
		if a.ID != b.ID || a.BBox != b.BBox || a.Area != b.Area || a.IsCrowd != b.IsCrowd || string(a.Segmentation) != string(b.Segmentation) {
			t.Fatalf("annotation %d: %+v != %+v", i, a, b)
		}
	}
	for i := range dt {
		if dt[i] != dt2[i] {
			t.Fatalf("result %d: %+v != %+v", i, dt[i], dt2[i])
		}
	}
	if string(gt2.Info) != string(gt.Info) {
		t.Fatalf("info %s != %s", gt2.Info, gt.Info)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

// TestSmallBuffer parses the golden inputs (testdata/README.md) through a reader that returns one
// byte at a time, exercising every buffer refill path.
func TestSmallBuffer(t *testing.T) {
	for _, f := range []string{"testdata/case_0001/gt.json", "testdata/case_0001/dt.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		l1 := newLexer(bytes.NewReader(b), MaxFileBytes)
		l2 := newLexer(&oneByte{b}, MaxFileBytes)
		l2.buf = make([]byte, 4)
		v1, err1 := l1.capture()
		v2, err2 := l2.capture()
		if err1 != nil || err2 != nil || !bytes.Equal(v1, v2) || !bytes.Equal(bytes.TrimSpace(v1), bytes.TrimSpace(b)) {
			t.Fatalf("%s: captures differ: %v %v", f, err1, err2)
		}
	}
	b, _ := os.ReadFile("testdata/case_0001/dt.json")
	want, err := ReadResults(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(&oneByte{b})
	if err != nil || len(got) != len(want) {
		t.Fatalf("one byte at a time: %v", err)
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

// TestGarbageFile reads a 1 GB file of NUL bytes (sparse on disk): both
// readers refuse it at once, allocating little.
func TestGarbageFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "garbage.json")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := ReadResultsFile(name); err == nil || !strings.Contains(err.Error(), "byte 0") {
		t.Errorf("results: %v", err)
	}
	if _, err := ReadDatasetFile(name); err == nil || !strings.Contains(err.Error(), "byte 0") {
		t.Errorf("dataset: %v", err)
	}
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 100<<20 {
		t.Errorf("allocated %d MB refusing garbage", a>>20)
	}
}
