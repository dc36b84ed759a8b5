package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IsImage reports whether name has a JPEG or PNG extension.
func IsImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// ReadFolder reads an image-folder dataset as torchvision's ImageFolder
// does: each sub-folder of root is a class, classes are numbered in
// sorted name order, and every JPEG or PNG under a class folder (at any
// depth, in sorted order) is a sample. A class folder without images is an
// error.
func ReadFolder(root string) (*Set, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read image folders: %w", err)
	}
	s := &Set{Name: filepath.Base(root)}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			s.Classes = append(s.Classes, e.Name())
		}
	}
	slices.Sort(s.Classes)
	if len(s.Classes) == 0 {
		return nil, fmt.Errorf("read image folders: %s has no class folders", root)
	}
	for label, class := range s.Classes {
		dir := filepath.Join(root, class)
		n := 0
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !IsImage(p) {
				return nil
			}
			s.Items = append(s.Items, Item{Path: p, Label: label})
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read image folders: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("read image folders: class folder %s has no .jpg or .png images", dir)
		}
	}
	return s, nil
}
