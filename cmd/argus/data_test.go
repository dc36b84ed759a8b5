package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDataSynthAndShow(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		task, size string
		show       string // dataset folder under the output to preview
	}{
		{"detection", "4", ""},
		{"reid", "4", "domain_b"},
		{"segmentation", "5", "camvid"},
		{"finegrained", "2", ""},
	}
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			out := filepath.Join(dir, c.task)
			var so, se bytes.Buffer
			if code := run([]string{"data", "synth", c.task, "--out", out, "--seed", "2", "--size", c.size, "--json"}, &so, &se); code != 0 {
				t.Fatalf("synth exit %d: %s", code, se.String())
			}
			var sum struct {
				Task   string `json:"task"`
				Images int    `json:"images"`
			}
			if err := json.Unmarshal(so.Bytes(), &sum); err != nil || sum.Task != c.task || sum.Images == 0 {
				t.Fatalf("summary %q: %v", so.String(), err)
			}
			png := filepath.Join(dir, c.task+".png")
			so.Reset()
			if code := run([]string{"data", "show", "--data", filepath.Join(out, c.show), "--out", png, "--n", "3", "--size", "48", "--json"}, &so, &se); code != 0 {
				t.Fatalf("show exit %d: %s", code, se.String())
			}
			var shown struct {
				Samples int    `json:"samples"`
				Format  string `json:"format"`
			}
			if err := json.Unmarshal(so.Bytes(), &shown); err != nil || shown.Samples != 3 {
				t.Fatalf("show summary %q: %v", so.String(), err)
			}
			if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Fatalf("grid not written: %v", err)
			}
		})
	}
}

func TestDataErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644)
	os.MkdirAll(filepath.Join(dir, "coco", "annotations"), 0o755)
	os.WriteFile(filepath.Join(dir, "coco", "annotations", "instances_train2017.json"), []byte(`{"images": 3}`), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"data", "synth", "cats", "--out", filepath.Join(dir, "x")}, "unknown task"},
		{[]string{"data", "synth", "reid"}, `required flag(s) "out" not set`},
		{[]string{"data", "synth", "reid", "--out", dir}, "already exists"},
		{[]string{"data", "synth", "reid", "--out", filepath.Join(dir, "y"), "--size", "3"}, "size"},
		{[]string{"data", "show", "--data", dir, "--out", filepath.Join(dir, "g.png"), "--format", "voc"}, "unknown format"},
		{[]string{"data", "show", "--data", filepath.Join(dir, "coco"), "--out", filepath.Join(dir, "g.png")}, "instances_train2017.json"},
		{[]string{"data", "show", "--data", dir, "--out", filepath.Join(dir, "g.jpg")}, ".png"},
	}
	for _, c := range cases {
		var so, se bytes.Buffer
		code := run(c.args, &so, &se)
		if code == 0 || !strings.Contains(se.String(), c.want) || strings.Count(strings.TrimSpace(se.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q (want one line with %q)", c.args, code, se.String(), c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "y")); err == nil {
		t.Fatal("a failed synth left its folder")
	}
}

func TestDataShowCorrupt(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fg")
	var so, se bytes.Buffer
	if code := run([]string{"data", "synth", "finegrained", "--out", out, "--size", "2"}, &so, &se); code != 0 {
		t.Fatal(se.String())
	}
	classes, _ := os.ReadDir(filepath.Join(out, "train"))
	bad := filepath.Join(out, "train", classes[0].Name(), "0000.jpg")
	os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 truncated"), 0o644)
	args := []string{"data", "show", "--data", out, "--out", filepath.Join(dir, "g.png"), "--n", "20", "--size", "32"}
	se.Reset()
	if code := run(args, &so, &se); code == 0 || !strings.Contains(se.String(), "0000.jpg") {
		t.Fatalf("corrupt image: exit %d, %q", code, se.String())
	}
	so.Reset()
	if code := run(append(args, "--skip-bad", "--json"), &so, &se); code != 0 {
		t.Fatalf("--skip-bad: %s", se.String())
	}
	var sum struct{ Samples, Skipped int }
	if err := json.Unmarshal(so.Bytes(), &sum); err != nil || sum.Skipped != 1 || sum.Samples != 19 {
		t.Fatalf("summary %s: %v", so.String(), err)
	}
}

// TestDataShowTopFolder: the top folder of a synthetic re-ID or
// segmentation set holds datasets; data show says so instead of showing
// them as two or three image classes.
func TestDataShowTopFolder(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		task, size, want string
	}{
		{"reid", "4", "holds datasets, not class folders: domain_a (market1501), domain_b (dukemtmcreid); give one of them as --data"},
		{"segmentation", "2", "holds datasets, not class folders: camvid (camvid), cityscapes (cityscapes)"},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			out := filepath.Join(dir, tt.task)
			var so, se bytes.Buffer
			if code := run([]string{"data", "synth", tt.task, "--out", out, "--size", tt.size}, &so, &se); code != 0 {
				t.Fatal(se.String())
			}
			se.Reset()
			png := filepath.Join(dir, tt.task+".png")
			code := run([]string{"data", "show", "--data", out, "--out", png}, &so, &se)
			if code == 0 || !strings.Contains(se.String(), out+" "+tt.want) || strings.Count(se.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q, want one line with %q", code, se.String(), tt.want)
			}
			if _, err := os.Stat(png); err == nil {
				t.Error("a grid was written")
			}
		})
	}
}

// TestDataShowOverInput: the grid may not replace one of the samples.
func TestDataShowOverInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fg")
	var so, se bytes.Buffer
	if code := run([]string{"data", "synth", "finegrained", "--out", out, "--size", "2"}, &so, &se); code != 0 {
		t.Fatal(se.String())
	}
	classes, _ := os.ReadDir(filepath.Join(out, "train"))
	sample := filepath.Join(out, "train", classes[0].Name(), "0000.jpg")
	// A .png spelling of the same file, through a link.
	link := filepath.Join(dir, "sample.png")
	if err := os.Symlink(sample, link); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(sample)
	se.Reset()
	code := run([]string{"data", "show", "--data", out, "--out", link, "--n", "2", "--size", "32"}, &so, &se)
	if code == 0 || !strings.Contains(se.String(), "--out "+link+" is also a sample of the dataset") {
		t.Errorf("exit %d, stderr %q", code, se.String())
	}
	if after, _ := os.ReadFile(sample); !bytes.Equal(before, after) {
		t.Error("the sample was overwritten")
	}
}

// TestDataSynthSignal: SIGINT or SIGTERM during data synth stops it with
// one error line and exit 130, and leaves no partial or temporary folder.
func TestDataSynthSignal(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			args, _ := json.Marshal([]string{"data", "synth", "detection", "--out", filepath.Join(dir, "det"), "--size", "1000000", "--workers", "1"})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "ARGUS_CLI_ARGS="+string(args))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Generous bounds: they end a hang, they do not time anything.
			kill := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
			defer kill.Stop()
			// Images are being written once the temporary folder holds one.
			deadline := time.Now().Add(60 * time.Second)
			for {
				tmp, _ := filepath.Glob(filepath.Join(dir, ".det.tmp*", "train2017", "*.jpg"))
				if len(tmp) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no image written: %s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d, want 130: %s", code, stderr.String())
			}
			e := stderr.String()
			if !strings.HasSuffix(e, "\nargus data synth: interrupted: nothing written to "+filepath.Join(dir, "det")+"\n") ||
				strings.Count(e, "argus") != 1 || strings.Contains(e, "goroutine") {
				t.Errorf("stderr %q, want the progress and one error line", e)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %s behind", entries[0].Name())
			}
		})
	}
}

// TestDataSynthStaleTemp: the temporary folder of a killed run is named,
// not removed (another run may be writing it), and does not stop a new run.
func TestDataSynthStaleTemp(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".fg.tmp123")
	os.Mkdir(stale, 0o755)
	var so, se bytes.Buffer
	if code := run([]string{"data", "synth", "finegrained", "--out", filepath.Join(dir, "fg"), "--size", "2"}, &so, &se); code != 0 {
		t.Fatal(se.String())
	}
	if !strings.HasPrefix(se.String(), "argus: note: "+stale+" left by an earlier run that was killed") {
		t.Errorf("stderr %q", se.String())
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("the other run's folder was removed: %v", err)
	}
}
