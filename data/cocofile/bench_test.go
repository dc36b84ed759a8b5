package cocofile

import (
	"argus/internal/cputime"
	"bytes"
	"testing"
)

// BenchmarkReadResults measures parsing the 500,000-detection results file.
func BenchmarkReadResults(b *testing.B) {
	_, dt := Synthetic(1, 5000, 100, 80)
	var buf bytes.Buffer
	if err := WriteResults(&buf, dt); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	start := cputime.Now()
	for b.Loop() {
		if _, err := ReadResults(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, start)
}

// BenchmarkReadDataset measures parsing the matching instances file.
func BenchmarkReadDataset(b *testing.B) {
	gt, _ := Synthetic(1, 5000, 100, 80)
	var buf bytes.Buffer
	if err := WriteDataset(&buf, gt); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	start := cputime.Now()
	for b.Loop() {
		if _, err := ReadDataset(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, start)
}
