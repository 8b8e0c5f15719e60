package collector

import (
	"os"
	"testing"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }
