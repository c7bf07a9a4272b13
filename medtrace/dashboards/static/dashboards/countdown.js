// Ticks the server-rendered countdowns (<time class="countdown" data-due="ISO">) once a
// minute, in the page's language (the wording comes from the server, #countdown-text), on the
// server's clock (the offset between the two is taken when the page loads).
(function () {
  "use strict";
  var source = document.getElementById("countdown-text");
  if (!source) { return; }
  var t = JSON.parse(source.textContent);
  var offset = t.now - Date.now();
  function fill(pattern, values) {
    return pattern.replace(/%\((\w+)\)s/g, function (_m, name) { return values[name]; });
  }
  function span(ms) {
    var minutes = Math.floor(ms / 60000);
    var d = Math.floor(minutes / 1440);
    var h = Math.floor((minutes % 1440) / 60);
    var m = minutes % 60;
    if (d) { return fill(d === 1 ? t.day1 : t.days, {d: d, h: h}); }
    if (h) { return fill(t.hm, {h: h, m: m}); }
    return fill(t.m, {m: m});
  }
  function tick() {
    var now = Date.now() + offset;
    var nodes = document.querySelectorAll("time.countdown[data-due]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var due = Date.parse(node.getAttribute("data-due"));
      if (isNaN(due)) { continue; }
      var left = due - now;
      var state = left < 0 ? "overdue" : (left < 86400000 ? "soon" : "due");
      node.textContent = left < 0 ? fill(t.overdue, {span: span(-left)})
                                  : fill(t.left, {span: span(left)});
      node.className = "countdown clock-" + state;
    }
  }
  tick();
  window.setInterval(tick, 30000);
})();
