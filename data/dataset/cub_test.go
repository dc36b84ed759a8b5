package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCUB(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReadCUB(t *testing.T) {
	good := map[string]string{
		"classes.txt":            "2 002.Laysan_Albatross\n1 001.Black_footed_Albatross\n",
		"images.txt":             "1 001.Black_footed_Albatross/a.jpg\n2 002.Laysan_Albatross/b.jpg\n3 002.Laysan_Albatross/c.jpg\n",
		"image_class_labels.txt": "1 1\n2 2\n3 2\n",
		"train_test_split.txt":   "1 1\n2 0\n3 1\n",
	}
	root := writeCUB(t, good)
	if !IsCUB(root) {
		t.Fatal("IsCUB is false")
	}
	tr, val, err := ReadCUB(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Items) != 2 || len(val.Items) != 1 || tr.Classes[0] != "001.Black_footed_Albatross" {
		t.Fatalf("train %v, val %v, classes %v", tr.Items, val.Items, tr.Classes)
	}
	if tr.Items[1].Label != 1 || val.Items[0].Label != 1 || tr.Items[0].Path != filepath.Join(root, "images", "001.Black_footed_Albatross", "a.jpg") {
		t.Fatalf("items %v %v", tr.Items, val.Items)
	}
	for _, c := range []struct{ file, text, want string }{
		{"image_class_labels.txt", "1 1\n2 2\n", "has no line in image_class_labels.txt"},
		{"image_class_labels.txt", "1 1\n2 7\n3 2\n", "not an id of classes.txt"},
		{"train_test_split.txt", "1 1\n2 x\n3 1\n", "want 1 or 0"},
		{"images.txt", "1 a.jpg\nbad\n", "images.txt line 2"},
		{"classes.txt", "1 a\n1 b\n", "id 1 appears twice"},
	} {
		bad := map[string]string{}
		for k, v := range good {
			bad[k] = v
		}
		bad[c.file] = c.text
		if _, _, err := ReadCUB(writeCUB(t, bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want %q", c.file, c.text, err, c.want)
		}
	}
}

// FuzzReadCUB feeds arbitrary index files: ReadCUB returns sets or an
// error, never panics, and every item it returns has a class.
func FuzzReadCUB(f *testing.F) {
	f.Add("1 a.jpg\n2 b.jpg\n", "1 1\n2 2\n", "1 1\n2 0\n", "1 A\n2 B\n")
	f.Add("1 a.jpg\n", "1 9\n", "1 1\n", "1 A\n")
	f.Add("x\n", "", "\n\n", "0 A")
	f.Fuzz(func(t *testing.T, images, labels, split, classes string) {
		root := writeCUB(t, map[string]string{"images.txt": images, "image_class_labels.txt": labels,
			"train_test_split.txt": split, "classes.txt": classes})
		tr, val, err := ReadCUB(root)
		if err != nil {
			return
		}
		for _, s := range []*Set{tr, val} {
			for _, it := range s.Items {
				if it.Label < 0 || it.Label >= len(s.Classes) {
					t.Fatalf("item %v of %d classes", it, len(s.Classes))
				}
			}
		}
	})
}
