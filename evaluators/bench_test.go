package evaluators

import (
	"context"
	"strings"
	"testing"
)

// benchAnswer is a realistic ~200-word support answer; benchReference a
// ground truth of similar length that shares much of its wording.
const benchAnswer = `Thanks for reaching out about your refund. I checked your order, and the
return was received at our warehouse on March 3rd. Refunds are issued to the original payment
method within five to seven business days after the return is inspected, so you should see the
money back on your card by March 12th at the latest. If you paid with a gift card, the balance
is restored immediately and you will receive an email confirmation. Please note that shipping
fees are not refundable unless the item arrived damaged or we sent the wrong product. In that
case, reply to this message with a photo of the item and the packaging, and we will refund the
shipping cost as well. If you do not see the refund after seven business days, contact your bank
first, because some banks take a few extra days to post the credit to your account. You can also
track the status of your return at any time from the Orders page in your account: the status
changes from "Received" to "Refunded" as soon as the payment is sent. Is there anything else I
can help you with today? We are happy to assist with exchanges or store credit as well.`

const benchReference = `Your return arrived at the warehouse on March 3rd. Refunds go to the original
payment method within five to seven business days after inspection, so expect the money on your
card by March 12th. Gift card balances are restored immediately with an email confirmation.
Shipping fees are not refundable unless the item was damaged or wrong; in that case send a photo
of the item and packaging and we refund the shipping too. If the refund has not appeared after
seven business days, check with your bank, which may take a few extra days to post the credit.
You can track the return on the Orders page, where the status changes from Received to Refunded
when the payment is sent. We can also help with exchanges or store credit.`

func benchEvaluator(b *testing.B, ev Evaluator, in Input) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Output)))
	for b.Loop() {
		rs, err := ev.Evaluate(ctx, in)
		if err != nil || len(rs) == 0 || rs[0].Failed() {
			b.Fatalf("%+v %v", rs, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

func BenchmarkDeterministic(b *testing.B) {
	in := Input{
		Input:     "Where is my refund? I returned the jacket two weeks ago.",
		Output:    benchAnswer,
		Context:   []string{benchReference},
		Reference: benchReference,
	}
	if n := len(strings.Fields(benchAnswer)); n < 180 || n > 230 {
		b.Fatalf("answer has %d words, want about 200", n)
	}
	jsonOut := `{"intent": "refund", "confidence": 0.92, "tags": ["refund", "shipping"], "priority": 2, "ticket": "T-1234",
		"summary": "` + strings.ReplaceAll(benchAnswer[:600], "\n", " ") + `"}`
	schema := strings.Replace(testSchema, `"additionalProperties": false,`, ``, 1)
	jsonGuard, err := NewJSONGuard(JSONGuardOptions{Schema: []byte(schema)})
	if err != nil {
		b.Fatal(err)
	}
	benches := []struct {
		name string
		ev   Evaluator
		in   Input
	}{
		{"exact_match", NewExactMatch(), in},
		{"token_f1", NewTokenF1(), in},
		{"bleu", NewBLEU(BLEUOptions{Smoothing: SmoothMethod1}), in},
		{"rouge_l", NewRougeL(), in},
		{"guard_pii", NewPIIGuard(), in},
		{"guard_injection", InjectionGuard{}, Input{Input: benchAnswer, Context: []string{benchReference}}},
		{"guard_refusal", RefusalGuard{}, in},
		{"guard_json_schema", jsonGuard, Input{Output: jsonOut}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) { benchEvaluator(b, bb.ev, bb.in) })
	}
}
