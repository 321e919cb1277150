// A real interpreter under the redirected CRT: Wine's JScript (cscript.exe),
// built against ucrtbase.dll. scripts/windows.sh and bench-windows.sh run it.
var words = [], map = {}, i, w, s = "";
for (i = 0; i < 200000; i++) {
  w = "w" + ((i * 7919) % 5003) + "_" + (i % 97);
  words.push(w);
  map[w] = (map[w] || 0) + 1;
}
words.sort();
var keys = 0; for (var k in map) keys++;
for (i = 0; i < 2000; i++) s += words[i * 100].substr(0, 3);
WScript.Echo("words " + words.length + " keys " + keys + " first " + words[0] + " last " + words[words.length - 1] + " len " + s.length);
