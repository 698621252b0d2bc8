package store_test

import (
	"testing"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/emulator/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
}
