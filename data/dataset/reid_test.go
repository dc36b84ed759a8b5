package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseMarketName(t *testing.T) {
	tests := []struct {
		name     string
		pid, cam int
		ok       bool
	}{
		{"0002_c1s1_000451_03.jpg", 2, 1, true},
		{"-1_c3s2_000126_02.jpg", -1, 3, true},
		{"0000_c6s1_000001_00.jpg", 0, 6, true},
		{"1501_c6s4_001877_01.jpg", 1501, 6, true},
		{"0005_c2_f0046985.jpg", 5, 2, true}, // DukeMTMC-reID
		{"Thumbs.db", 0, 0, false},
		{"--1_c1.jpg", 0, 0, false},
		{"-2_c1s1.jpg", 0, 0, false},
	}
	for _, tt := range tests {
		pid, cam, err := ParseMarketName(tt.name)
		if (err == nil) != tt.ok || (tt.ok && (pid != tt.pid || cam != tt.cam)) {
			t.Errorf("%s: %d %d %v", tt.name, pid, cam, err)
		}
	}
}

func TestReadMarket1501(t *testing.T) {
	root := t.TempDir()
	touch(t, filepath.Join(root, "bounding_box_train"), "0002_c1s1_000451_03.jpg", "0007_c2s3_070952_01.jpg", "0002_c3s1_000551_01.jpg", "notes.txt")
	touch(t, filepath.Join(root, "query"), "0001_c1s1_001051_00.jpg")
	touch(t, filepath.Join(root, "bounding_box_test"), "0001_c2s1_000301_01.jpg", "0000_c1s1_000000_01.jpg", "-1_c1s1_000401_03.jpg")
	ds, err := ReadMarket1501(root)
	if err != nil {
		t.Fatal(err)
	}
	if ds.NumTrainPIDs != 2 || len(ds.Train.Items) != 3 || ds.Train.Items[2].Label != 1 || ds.Train.Items[1].Camera != 2 {
		t.Errorf("train %+v, %d pids", ds.Train.Items, ds.NumTrainPIDs)
	}
	if len(ds.Gallery.Items) != 2 || ds.Gallery.Items[0].Label != 0 || ds.Gallery.Items[1].Label != 1 || ds.Gallery.Items[1].Camera != 1 {
		t.Errorf("gallery %+v: want the distractor kept and the junk dropped", ds.Gallery.Items)
	}
	if len(ds.Query.Items) != 1 || ds.Query.Items[0].Label != 1 || ds.Query.Items[0].Camera != 0 {
		t.Errorf("query %+v", ds.Query.Items)
	}

	touch(t, filepath.Join(root, "query"), "0003_c7s1_000001_00.jpg")
	if _, err := ReadMarket1501(root); err == nil || !strings.Contains(err.Error(), "camera 7") {
		t.Errorf("camera 7: err %v", err)
	}
	if _, err := ReadDukeMTMC(root); err != nil {
		t.Errorf("camera 7 in DukeMTMC-reID: %v", err)
	}
	touch(t, filepath.Join(root, "query"), "garbage.jpg")
	if _, err := ReadDukeMTMC(root); err == nil || !strings.Contains(err.Error(), "garbage.jpg") {
		t.Errorf("malformed name: err %v", err)
	}
	if _, err := ReadMarket1501(filepath.Join(root, "nowhere")); err == nil {
		t.Error("missing folder: no error")
	}
}

func TestReID(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"bounding_box_train/0002_c1s1_000001_00.jpg", "bounding_box_train/0007_c2s1_000002_00.jpg",
		"query/0002_c2s1_000003_00.jpg", "bounding_box_test/0002_c3s1_000004_00.jpg", "bounding_box_test/-1_c3s1_000005_00.jpg"} {
		writeImage(t, filepath.Join(root, n), 8, 16)
	}
	d, err := ReadReID("market1501", root)
	if err != nil {
		t.Fatal(err)
	}
	train, query, gallery := d.Train, d.Query, d.Gallery
	if len(train.Items) != 2 || train.Items[1].Label != 1 || train.Items[1].Camera != 1 || len(query.Items) != 1 || len(gallery.Items) != 1 {
		t.Fatalf("splits %+v %+v %+v", train.Items, query.Items, gallery.Items)
	}
	if query.Items[0].Label != 2 {
		t.Fatalf("query pid %d", query.Items[0].Label)
	}
	if _, err := ReadReID("viper", root); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestReadMSMT17(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("list_train.txt", "0000/0000_000_01_0303morning_0015_0.jpg 0\n0001/0001_003_15_0303morning_0036_1.jpg 1\n")
	write("list_query.txt", "0000/0000_000_05_0303noon_0003_0.jpg 0\n")
	write("list_gallery.txt", "0000/0000_001_07_0303afternoon_0144_0.jpg 0\n\n")
	ds, err := ReadMSMT17(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train.Items) != 2 || ds.Train.Items[1].Camera != 14 || ds.NumTrainPIDs != 2 ||
		ds.Query.Items[0].Camera != 4 || ds.Gallery.Items[0].Camera != 6 ||
		ds.Gallery.Items[0].Path != filepath.Join(root, "test", "0000/0000_001_07_0303afternoon_0144_0.jpg") {
		t.Errorf("got %+v %+v %+v, %d pids", ds.Train.Items, ds.Query.Items, ds.Gallery.Items, ds.NumTrainPIDs)
	}
	write("list_query.txt", "0000/0000_000_16_0303noon_0003_0.jpg 0\n")
	if _, err := ReadMSMT17(root); err == nil || !strings.Contains(err.Error(), "list_query.txt:1") {
		t.Errorf("camera 16: err %v", err)
	}
}

func TestParseMSMTLine(t *testing.T) {
	for _, bad := range []string{"", "a.jpg", "0000/0000_000_01_x.jpg x", "0000/0000_000_01_x.jpg -3", "0000_000.jpg 1", "../0000_000_01_x.jpg 1", "/0000_000_01_x.jpg 1", "0000/0000_000_00_x.jpg 1"} {
		if _, _, _, err := ParseMSMTLine(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseMarketName(f *testing.F) {
	for _, s := range []string{"0002_c1s1_000451_03.jpg", "-1_c3s2_000126_02.jpg", "0005_c2_f0046985.jpg", "x", "99999999999999999999_c1.jpg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		pid, cam, err := ParseMarketName(name)
		if err == nil && (pid < -1 || cam < 0 || cam > 9) {
			t.Fatalf("%q: pid %d cam %d", name, pid, cam)
		}
	})
}

func FuzzParseMSMTLine(f *testing.F) {
	for _, s := range []string{"0000/0000_000_01_0303morning_0015_0.jpg 0", "a b c", "0_0_99 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		path, pid, cam, err := ParseMSMTLine(line)
		if err == nil && (path == "" || pid < 0 || cam < 1 || cam > 15) {
			t.Fatalf("%q: %q %d %d", line, path, pid, cam)
		}
	})
}
