// The page's only style sheet (inline: the Content-Security-Policy allows no other source).
// Tables scroll inside their own box, and below 40em become one block per row, so a phone
// never scrolls the page sideways; long paths wrap anywhere.
export const pageStyle = `
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1rem;max-width:80rem;color:#1f2328;background:#fff;line-height:1.45;overflow-wrap:break-word}
h1{font-size:1.35rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin:1.4rem 0 .4rem;border-bottom:1px solid #d0d7de}h3{font-size:1rem;margin:1rem 0 .3rem}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:anywhere}
th{white-space:nowrap}
code.cmd{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:0 .25em}
.banner{border:2px solid;border-radius:8px;padding:.7rem 1rem;margin:.5rem 0 1rem}
.banner .word{font-size:1.6rem;font-weight:700;letter-spacing:.03em}
.d-accept{border-color:#1a7f37;background:#dafbe1;color:#0f4d22}.d-degraded{border-color:#9a6700;background:#fff8c5;color:#4d3300}.d-refuse{border-color:#cf222e;background:#ffebe9;color:#7a0e15}
.st{font-weight:600;white-space:nowrap}.st-ok{color:#1a7f37}.st-warning{color:#8a5a00}.st-critical{color:#b3141d}.st-unknown{color:#57606a}
ul.reasons{padding-left:1.2rem}ul.reasons li{margin:.45rem 0}.next{display:block;color:#424a53;font-size:.93em}
.maint{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.6rem .8rem}
table{border-collapse:collapse;width:100%;margin:.3rem 0 .8rem}caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
details{border:1px solid #d0d7de;border-radius:6px;padding:.3rem .8rem;margin:.6rem 0}summary{cursor:pointer;padding:.3rem 0}
summary h3{display:inline;font-size:1rem}.muted{color:#57606a}.stale{color:#b3141d;font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.3rem 0}dl.facts dt{color:#57606a}dl.facts dd{margin:0}
ol.events{padding-left:1.2rem}ol.events li{margin:.3rem 0}
@media (max-width:40em){
 body{padding:.6rem}
 table.stack thead{position:absolute;left:-9999px}
 table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
 table.stack tr{border:1px solid #d0d7de;border-radius:6px;margin:.4rem 0;padding:.2rem .4rem}
 table.stack td{border:0;padding:.1rem 0}
 table.stack td::before{content:attr(data-label) ": ";color:#57606a;font-weight:600}
 dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.3rem}
}
`;
