package writer

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/chainwatch/chainwatch/internal/health"
)

// GroupCheck is "writers": none of this process's writers has stopped,
// and the group is Stable with members (a group rebalancing, empty or dead
// consumes nothing).
func GroupCheck(writers []*Writer, adm *kadm.Client, group string) health.Check {
	return func(ctx context.Context) health.Component {
		c := health.Component{Name: "writers"}
		stopped := 0
		for _, w := range writers {
			select {
			case <-w.Done():
				stopped++
			default:
			}
		}
		if stopped > 0 {
			c.Error = fmt.Sprintf("%d of %d writers in this process stopped", stopped, len(writers))
			return c
		}
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			c.Error = fmt.Sprintf("describing group %s: %v", group, err)
			return c
		}
		g := gs[group]
		if g.Err != nil {
			c.Error = fmt.Sprintf("describing group %s: %v", group, g.Err)
			return c
		}
		c.State = g.State
		if g.State != "Stable" || len(g.Members) == 0 {
			c.Error = fmt.Sprintf("group %s is %s with %d members", group, g.State, len(g.Members))
			return c
		}
		c.OK = true
		return c
	}
}
