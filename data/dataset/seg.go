package dataset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"argus/data/imageio"
)

// Mapping maps the raw ids stored in label PNGs to train ids; raw ids it
// does not list map to 255 (ignored).
type Mapping struct {
	Table [256]uint8
	// Names holds the name of each train id 0..len(Names)−1.
	Names []string
	// Defined, when not nil, marks the raw ids of the label set (a
	// layout's own ids, and 255); Check refuses a label map holding any
	// other value. A mapping file leaves it nil: the ids it does not list
	// are ignored, as documented above.
	Defined *[256]bool
}

// Check returns an error naming the first raw id of m that the label set
// does not define, or nil (always nil without Defined).
func (mp *Mapping) Check(m *imageio.Mask) error {
	if mp.Defined == nil {
		return nil
	}
	for i, v := range m.Pix {
		if !mp.Defined[v] {
			return fmt.Errorf("label %d at pixel (%d, %d) is not in the label set", v, i%m.W, i/m.W)
		}
	}
	return nil
}

// define returns the Defined set of the given raw ids and 255.
func define(ids ...int) *[256]bool {
	var d [256]bool
	for _, id := range ids {
		d[id] = true
	}
	d[imageio.Ignore] = true
	return &d
}

// Apply maps m's labels in place.
func (mp *Mapping) Apply(m *imageio.Mask) {
	for i, v := range m.Pix {
		m.Pix[i] = mp.Table[v]
	}
}

// NumClasses returns the number of train ids.
func (mp *Mapping) NumClasses() int { return len(mp.Names) }

// ParseMapping reads a mapping: one "raw_id train_id [name]" line per raw
// id, '#' starting a comment. Train ids must run 0..K−1 without gaps
// (255 for ignored ids); a train id's name is taken from its first line.
func ParseMapping(r io.Reader) (*Mapping, error) {
	mp := &Mapping{}
	for i := range mp.Table {
		mp.Table[i] = imageio.Ignore
	}
	seen := [256]bool{}
	names := map[int]string{}
	maxID := -1
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if k := strings.IndexByte(text, '#'); k >= 0 {
			text = text[:k]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("line %d: want \"raw_id train_id [name]\", have %d fields", line, len(f))
		}
		raw, err1 := strconv.Atoi(f[0])
		tr, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || raw < 0 || raw > 255 || tr < 0 || tr > 255 {
			return nil, fmt.Errorf("line %d: want ids in 0..255, have %q", line, sc.Text())
		}
		if seen[raw] {
			return nil, fmt.Errorf("line %d: raw id %d mapped twice", line, raw)
		}
		seen[raw] = true
		mp.Table[raw] = uint8(tr)
		if tr != imageio.Ignore {
			maxID = max(maxID, tr)
			if _, ok := names[tr]; !ok {
				names[tr] = strconv.Itoa(tr)
				if len(f) == 3 {
					names[tr] = f[2]
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if maxID < 0 {
		return nil, fmt.Errorf("no train ids")
	}
	for id := 0; id <= maxID; id++ {
		n, ok := names[id]
		if !ok {
			return nil, fmt.Errorf("train ids skip %d", id)
		}
		mp.Names = append(mp.Names, n)
	}
	return mp, nil
}

// ReadMapping reads a mapping file (see ParseMapping).
func ReadMapping(name string) (*Mapping, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read mapping: %w", err)
	}
	defer f.Close()
	mp, err := ParseMapping(f)
	if err != nil {
		return nil, fmt.Errorf("read mapping %s: %w", name, err)
	}
	return mp, nil
}

// Cityscapes returns the official labelIds → trainIds table of the
// Cityscapes scripts (19 classes; the other labelIds 0..33 ignored, and
// values above 33 other than 255 undefined).
func Cityscapes() *Mapping {
	ids := []int{7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}
	names := []string{"road", "sidewalk", "building", "wall", "fence", "pole", "traffic_light", "traffic_sign",
		"vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"}
	all := make([]int, 34)
	for i := range all {
		all[i] = i
	}
	mp := &Mapping{Names: names, Defined: define(all...)}
	for i := range mp.Table {
		mp.Table[i] = imageio.Ignore
	}
	for t, id := range ids {
		mp.Table[id] = uint8(t)
	}
	return mp
}

// CamVid returns the 11-class table of SegNet's CamVid (labels 0..10 kept,
// 11 "void" and 255 ignored, others undefined).
func CamVid() *Mapping {
	names := []string{"sky", "building", "pole", "road", "sidewalk", "tree", "sign_symbol", "fence", "car", "pedestrian", "bicyclist"}
	mp := &Mapping{Names: names, Defined: define(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)}
	for i := range mp.Table {
		mp.Table[i] = imageio.Ignore
	}
	for t := range names {
		mp.Table[t] = uint8(t)
	}
	return mp
}

// SegLayouts lists the folder layouts ReadSegmentation knows.
var SegLayouts = []string{"cityscapes", "camvid"}

// ReadSegmentation reads split (train, val, test) of a segmentation
// dataset under root in one of two layouts:
//
//   - "cityscapes": leftImg8bit/SPLIT/CITY/X_leftImg8bit.png with the
//     label map gtFine/SPLIT/CITY/X_gtFine_labelIds.png;
//   - "camvid" (SegNet's layout): SPLIT/X.png with SPLIT + "annot"/X.png.
//
// If root holds mapping.txt it is the id mapping (see ParseMapping), else
// the layout's standard table. An image without its label map is an error
// naming the missing file.
func ReadSegmentation(layout, root, split string) (*Set, error) {
	var mp *Mapping
	switch layout {
	case "cityscapes":
		mp = Cityscapes()
	case "camvid":
		mp = CamVid()
	default:
		return nil, fmt.Errorf("unknown segmentation layout %q (want cityscapes or camvid)", layout)
	}
	if p := filepath.Join(root, "mapping.txt"); fileExists(p) {
		var err error
		if mp, err = ReadMapping(p); err != nil {
			return nil, err
		}
	}
	s := &Set{Name: filepath.Base(root) + "/" + split, Mapping: mp, Classes: mp.Names}
	var imgDir string
	var label func(img string) string
	switch layout {
	case "cityscapes":
		imgDir = filepath.Join(root, "leftImg8bit", split)
		label = func(img string) string {
			rel, _ := filepath.Rel(imgDir, img)
			base := strings.TrimSuffix(rel, "_leftImg8bit"+filepath.Ext(rel))
			return filepath.Join(root, "gtFine", split, base+"_gtFine_labelIds.png")
		}
	case "camvid":
		imgDir = filepath.Join(root, split)
		label = func(img string) string {
			return filepath.Join(root, split+"annot", strings.TrimSuffix(filepath.Base(img), filepath.Ext(img))+".png")
		}
	}
	err := filepath.WalkDir(imgDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !IsImage(p) {
			return nil
		}
		if layout == "cityscapes" && !strings.HasSuffix(strings.TrimSuffix(p, filepath.Ext(p)), "_leftImg8bit") {
			return nil
		}
		lp := label(p)
		if !fileExists(lp) {
			return fmt.Errorf("image %s has no label map %s", p, lp)
		}
		s.Items = append(s.Items, Item{Path: p, MaskPath: lp})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s segmentation: %w", layout, err)
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("read %s segmentation: no images under %s", layout, imgDir)
	}
	slices.SortFunc(s.Items, func(a, b Item) int { return strings.Compare(a.Path, b.Path) })
	return s, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
