package store

import (
	"fmt"
	"iter"

	"github.com/acrgo/acr/internal/jsonread"
)

// Tags implements [Tx.Tags]. Records are binary (disk_codec.go); those
// still in JSON are decoded by decodeTag rather than encoding/json:
// listing 10,000 tags spent most of its time there (BenchmarkListTags,
// store=disk, in the root package).
func (t *diskTx) Tags(repo, after string) iter.Seq2[Tag, error] {
	var slab textSlab
	return scanRepo(t, bucketTags, repo, "", after, func(k, v []byte) (Tag, error) {
		tag, err := decodeTagRecord(k, v, &slab)
		if err != nil {
			return tag, fmt.Errorf("store: corrupt record %q in %q: %w", k, repo, err)
		}
		return tag, nil
	})
}

var tagFields = []string{"name", "digest", "createdAt", "updatedAt", "attrs"}

var attributeFields = []string{"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled"}

// decodeTag decodes a tag record as json.Unmarshal decodes one into a Tag.
// The strings it returns are copies: v may point into the database's
// pages.
func decodeTag(v []byte) (Tag, error) {
	var tag Tag
	r := jsonread.New(v)
	err := r.Object(func(key []byte) error {
		switch jsonread.Field(key, tagFields) {
		case "name":
			return r.ReadString(&tag.Name)
		case "digest":
			return r.ReadString((*string)(&tag.Digest))
		case "createdAt":
			return r.ReadTime(&tag.CreatedAt)
		case "updatedAt":
			return r.ReadTime(&tag.UpdatedAt)
		case "attrs":
			return r.Object(func(key []byte) error {
				var p *bool
				switch jsonread.Field(key, attributeFields) {
				case "deleteEnabled":
					p = &tag.Attrs.DeleteEnabled
				case "writeEnabled":
					p = &tag.Attrs.WriteEnabled
				case "readEnabled":
					p = &tag.Attrs.ReadEnabled
				case "listEnabled":
					p = &tag.Attrs.ListEnabled
				default:
					return r.Skip()
				}
				b, set, err := r.Bool()
				if set {
					*p = b
				}
				return err
			})
		}
		return r.Skip()
	})
	if err == nil {
		err = r.End()
	}
	return tag, err
}
