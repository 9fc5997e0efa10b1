// Player for a knobs static twin: builds labelled controls, swaps precomputed panel layers.
(function () {
  var SPEEDS = [["slow", 0.5], ["normal", 1], ["fast", 2]];
  function build(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var data = JSON.parse(root.querySelector(".knobs-twin-data").textContent);
    var knobs = root.querySelector(".knobs-twin-controls");
    var player = root.querySelector(".knobs-twin-player");
    var panels = root.querySelectorAll(".knobs-twin-panel");
    var status = root.querySelector(".knobs-twin-status");
    var description = root.querySelector(".knobs-twin-description");
    var state = data.defaults.slice();
    var step = 0, timer = null, speed = 1, uid = root.id, made = 0;

    function add(tag, attrs, parent) {
      var el = document.createElement(tag);
      for (var k in attrs) el.setAttribute(k, attrs[k]);
      parent.appendChild(el);
      return el;
    }
    function newId() { made += 1; return uid + "-" + made; }
    function slider(parent, label, values, value, onchange) {
      var id = newId();
      var box = add("div", { "class": "knobs-twin-knob" }, parent);
      add("label", { "for": id }, box).textContent = label + " ";
      var input = add("input", { type: "range", id: id, min: 0, max: values.length - 1, step: 1, value: value }, box);
      var out = add("output", { "for": id }, box);
      function sync() {
        var v = values[input.value];
        out.textContent = v;
        input.setAttribute("aria-valuetext", label + " " + v);
      }
      input.addEventListener("input", function () { onchange(+input.value); sync(); });
      // as wide as the widest value, so the layout never jumps (or spills) as the knob moves
      var widest = 0;
      values.forEach(function (v) { out.textContent = v; widest = Math.max(widest, out.scrollWidth); });
      out.style.minWidth = Math.ceil(widest) + "px";
      sync();
      return { input: input, sync: sync };
    }
    function select(parent, label, values, value, onchange) {
      var id = newId();
      var box = add("div", { "class": "knobs-twin-knob" }, parent);
      add("label", { "for": id }, box).textContent = label + " ";
      var sel = add("select", { id: id }, box);
      values.forEach(function (v, i) { add("option", { value: i }, sel).textContent = v; });
      sel.value = value;
      sel.addEventListener("change", function () { onchange(+sel.value); });
    }
    function current() { return data.frames[state.join(",")][step]; }
    function show() {
      var frame = current();
      frame.img.forEach(function (layers, i) {
        var img = panels[i].querySelector("img");
        panels[i].style.backgroundImage = "url(" + data.images[layers[0]] + ")";
        img.src = data.images[layers[1]];
        img.alt = frame.alt[i];
      });
      status.textContent = frame.text;
      description.textContent = data.title + ". " + frame.text + " " + frame.alt.join(" ");
    }
    data.controls.forEach(function (c, i) {
      var set = function (v) { state[i] = v; show(); };
      var numeric = c.values.every(function (v) { return !isNaN(parseFloat(v)); });
      if (c.values.length === 1) {
        // fixed in the precomputed twin: say so instead of showing a control that does nothing
        add("p", { "class": "knobs-twin-fixed" }, knobs).textContent = c.label + " " + c.values[0] + " (change it in the live lab)";
      } else if (numeric) slider(knobs, c.label, c.values, state[i], set);
      else select(knobs, c.label, c.values, state[i], set);
    });
    var stepper = slider(player, "Step", data.steps, 0, function (v) { step = v; show(); });
    var buttons = add("div", { "class": "knobs-twin-buttons" }, player);
    var play = add("button", { type: "button", "class": "knobs-twin-play" }, buttons);
    play.textContent = "Play";
    var reset = add("button", { type: "button", "class": "knobs-twin-reset" }, buttons);
    reset.textContent = "Reset";
    var speedId = newId();
    var speedBox = add("span", { "class": "knobs-twin-speed" }, buttons);
    add("label", { "for": speedId }, speedBox).textContent = "speed";
    var speedSelect = add("select", { id: speedId, "class": "knobs-twin-speed-select" }, speedBox);
    SPEEDS.forEach(function (s, i) { add("option", { value: i }, speedSelect).textContent = s[0]; });
    speedSelect.value = 1;

    function interval() {  // Play shows the whole run in play_seconds (at normal speed)
      return Math.max(60, 1000 * data.play_seconds / Math.max(1, data.steps.length - 1) / speed);
    }
    function tick() {
      step += 1;
      stepper.input.value = step; stepper.sync(); show();
      if (step >= data.steps.length - 1) stop();
    }
    function stop() {
      clearInterval(timer); timer = null; play.textContent = "Play";
      status.setAttribute("aria-live", "polite"); status.textContent = current().text;  // announce where it stopped
    }
    play.addEventListener("click", function () {
      if (timer) return stop();
      if (step === data.steps.length - 1) step = 0;
      play.textContent = "Pause";
      status.setAttribute("aria-live", "off");  // a screen reader would otherwise read every frame while it plays
      timer = setInterval(tick, interval());
    });
    speedSelect.addEventListener("change", function () {
      speed = SPEEDS[+speedSelect.value][1];
      if (timer) { clearInterval(timer); timer = setInterval(tick, interval()); }
    });
    reset.addEventListener("click", function () { stop(); step = 0; stepper.input.value = 0; stepper.sync(); show(); });
    show();
  }
  function init() { document.querySelectorAll(".knobs-twin").forEach(build); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
