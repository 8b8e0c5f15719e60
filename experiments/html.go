package experiments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"

	"github.com/chainwatch/chainwatch/experiments/stats"
)

// The HTML report is one file with no network access: the styles, the data
// (as JSON) and the script that draws the plots as inline SVG are all in
// it. The plots are drawn by the script so that the test that renders the
// file in headless Chromium proves the script ran: it asserts the SVG
// elements the script made, and the data-plots attribute it sets when done.

type htmlMetric struct {
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason"`
	Base    []float64 `json:"base"`
	Cand    []float64 `json:"cand"`
	Diffs   []float64 `json:"diffs"` // sorted ascending
	Lo      float64   `json:"lo"`
	Hi      float64   `json:"hi"`
	Margin  float64   `json:"margin"`
}

type htmlData struct {
	Report  *Report
	Metrics []htmlMetric
	JSON    template.JS
}

// WriteHTML writes the self-contained HTML report.
func (r *Report) WriteHTML(w io.Writer) error {
	d := htmlData{Report: r}
	for _, m := range r.Metrics {
		hm := htmlMetric{Name: m.Name, Kind: m.Kind, Verdict: m.Verdict, Reason: m.Reason, Margin: m.Margin}
		s := r.Samples[m.Name]
		hm.Base, hm.Cand = finite(s[0]), finite(s[1])
		for _, x := range m.Diffs {
			hm.Diffs = append(hm.Diffs, x.Diff)
		}
		hm.Diffs = finite(hm.Diffs)
		sort.Float64s(hm.Diffs)
		if m.Bootstrap != nil {
			hm.Lo, hm.Hi = m.Bootstrap.CI.Lo, m.Bootstrap.CI.Hi
		}
		d.Metrics = append(d.Metrics, hm)
	}
	b, err := json.Marshal(d.Metrics)
	if err != nil {
		return fmt.Errorf("encoding report data: %w", err)
	}
	// json.Marshal escapes <, > and & so the data cannot close the script.
	d.JSON = template.JS(b)
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("rendering html report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func finite(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"f4":   f4,
	"ci":   ciText,
	"test": testText,
	"pct":  func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"noise": func(m stats.MetricResult) string {
		return noiseText(m)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>chainwatch experiment {{.Report.Base.ID}} vs {{.Report.Candidate.ID}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.pass{color:#1a7f37}.regression,.error{color:#cf222e}.inconclusive{color:#9a6700}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #ddd;padding:8px}
pre{white-space:pre-wrap;max-width:48em;margin:0}
</style></head>
<body>
<h1>Experiment comparison: <span class="{{.Report.Verdict}}">{{.Report.Verdict}}</span></h1>
<p>Base <b>{{.Report.Base.Chain}}@{{.Report.Base.ChainVersion}}</b> ({{.Report.Base.ID}}, prompt {{.Report.Base.PromptVersion}}, model {{.Report.Base.ModelRequested}})
→ candidate <b>{{.Report.Candidate.Chain}}@{{.Report.Candidate.ChainVersion}}</b> ({{.Report.Candidate.ID}}, prompt {{.Report.Candidate.PromptVersion}}, model {{.Report.Candidate.ModelRequested}})
on dataset {{.Report.Base.Dataset}}@{{.Report.Base.DatasetVersion}}; α = {{.Report.Alpha}}, seed {{.Report.Seed}}.</p>
{{if .Report.Failures}}<ul>{{range .Report.Failures}}<li class="regression">{{.}}</li>{{end}}</ul>{{end}}
{{range .Report.Warnings}}<p class="inconclusive">warning: {{.}}</p>{{end}}
<table><tr><th>metric</th><th>kind</th><th>n</th><th>base</th><th>candidate</th><th>difference [CI]</th><th>test</th><th>noise SE</th><th>margin</th><th>verdict</th></tr>
{{range .Report.Metrics}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.N}}</td><td>{{f4 .BaseMean}}</td><td>{{f4 .CandMean}}</td><td>{{ci .}}</td><td>{{test .}}</td><td>{{noise .}}</td><td>{{.Margin}}</td><td class="{{.Verdict}}" title="{{.Reason}}">{{.Verdict}}</td></tr>
{{end}}</table>
{{with .Report.WinRate}}<p>Side by side: candidate wins {{.Wins}}, loses {{.Losses}}, ties {{.Ties}}; win rate {{pct .Rate}} (ties half); among decisive judgments {{pct .Decisive}} [{{pct .CI.Lo}}, {{pct .CI.Hi}}].</p>{{end}}
<h2>Score distributions and per-item differences</h2>
<div class="plots" id="plots"></div>
{{if .Report.Required}}<h2>Required rows</h2><table><tr><th>row</th><th>input</th><th>result</th></tr>
{{range .Report.Required}}<tr><td>{{.Row}}</td><td><pre>{{.Input}}</pre></td><td class="{{if .Passed}}pass{{else}}regression{{end}}">{{if .Passed}}passed{{else}}failed {{range .Failed}}{{.}} {{end}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Report.Changed}}<h2>Rows that changed verdict</h2><table id="changed"><tr><th>row</th><th>metric</th><th>change</th><th>input</th><th>base output</th><th>candidate output</th></tr>
{{range .Report.Changed}}<tr><td>{{.Row}}</td><td>{{.Metric}}</td><td class="{{if eq .Direction "regressed"}}regression{{else}}pass{{end}}">{{.Direction}}</td><td><pre>{{.Input}}</pre></td><td><pre>{{.BaseOutput}}</pre></td><td><pre>{{.CandOutput}}</pre></td></tr>
{{end}}</table>{{end}}
<script>
(function(){
const data = {{.JSON}};
const NS = "http://www.w3.org/2000/svg";
function el(name, attrs, parent){const e=document.createElementNS(NS,name);for(const k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function text(parent,x,y,s,anchor){const t=el("text",{x:x,y:y,"font-size":11,"text-anchor":anchor||"start"},parent);t.textContent=s;return t;}
function svg(w,h,kind,name){return el("svg",{width:w,height:h,viewBox:"0 0 "+w+" "+h,"data-plot":kind,"data-metric":name});}
// Histogram of the per-item scores of both versions on shared bins.
function histogram(m){
  const W=360,H=200,L=36,B=28,s=svg(W,H,"distribution",m.name);
  const all=m.base.concat(m.cand);
  text(s,W/2,14,m.name+": score distribution","middle");
  if(all.length===0){text(s,W/2,H/2,"no scores","middle");return s;}
  let lo=Math.min(...all),hi=Math.max(...all);if(hi===lo){lo-=0.5;hi+=0.5;}
  const nb=Math.min(20,Math.max(5,Math.ceil(Math.sqrt(all.length)))),bw=(hi-lo)/nb;
  const count=xs=>{const c=new Array(nb).fill(0);xs.forEach(v=>{c[Math.min(nb-1,Math.floor((v-lo)/bw))]++;});return c;};
  const cb=count(m.base),cc=count(m.cand),top=Math.max(1,...cb,...cc);
  const pw=(W-L-8)/nb,ph=H-B-24;
  for(let i=0;i<nb;i++){
    const x=L+i*pw;
    el("rect",{x:x+1,y:20+ph-ph*cb[i]/top,width:pw/2-1,height:ph*cb[i]/top,fill:"#8c959f",class:"bar base"},s);
    el("rect",{x:x+pw/2,y:20+ph-ph*cc[i]/top,width:pw/2-1,height:ph*cc[i]/top,fill:"#0969da",class:"bar candidate"},s);
  }
  el("line",{x1:L,y1:20+ph,x2:W-8,y2:20+ph,stroke:"#333"},s);
  text(s,L,H-10,lo.toPrecision(3));text(s,W-8,H-10,hi.toPrecision(3),"end");
  text(s,L+70,H-10,"■ base",null).setAttribute("fill","#8c959f");
  text(s,L+130,H-10,"■ candidate",null).setAttribute("fill","#0969da");
  text(s,4,28,String(top));
  return s;
}
// Sorted per-item differences with the interval and the margin.
function diffs(m){
  const W=360,H=200,L=36,s=svg(W,H,"differences",m.name);
  text(s,W/2,14,m.name+": per-item difference (sorted)","middle");
  const d=m.diffs;if(d.length===0){text(s,W/2,H/2,"no paired items","middle");return s;}
  let lo=Math.min(0,-m.margin,m.lo,...d),hi=Math.max(0,m.hi,...d);if(hi===lo){hi+=1;}
  const ph=H-48,y=v=>20+ph*(hi-v)/(hi-lo),pw=(W-L-8)/d.length;
  d.forEach((v,i)=>{el("rect",{x:L+i*pw,y:Math.min(y(v),y(0)),width:Math.max(1,pw-1),height:Math.max(1,Math.abs(y(v)-y(0))),fill:v<0?"#cf222e":"#1a7f37",class:"bar diff"},s);});
  el("line",{x1:L,y1:y(0),x2:W-8,y2:y(0),stroke:"#333"},s);
  el("line",{x1:L,y1:y(-m.margin),x2:W-8,y2:y(-m.margin),stroke:"#9a6700","stroke-dasharray":"4 3",class:"margin"},s);
  el("rect",{x:W-20,y:y(m.hi),width:6,height:Math.max(1,y(m.lo)-y(m.hi)),fill:"#0969da",class:"ci"},s);
  text(s,4,y(hi)+10,hi.toPrecision(2));text(s,4,y(lo),lo.toPrecision(2));
  text(s,L,H-8,"interval ["+m.lo.toPrecision(3)+", "+m.hi.toPrecision(3)+"], margin −"+m.margin);
  return s;
}
const root=document.getElementById("plots");
let n=0;
data.forEach(m=>{
  const box=document.createElement("div");box.className="plot";
  box.appendChild(histogram(m));box.appendChild(diffs(m));root.appendChild(box);n+=2;
});
document.body.setAttribute("data-plots",String(n));
})();
</script>
</body></html>
`))
