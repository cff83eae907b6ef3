import { test } from "node:test";
import assert from "node:assert/strict";

// A fake speech engine that says one utterance at a time, as browsers do.
const engine = {
  voices: [],
  said: [],
  cancels: 0,
  queue: [],
  busy: false,
  paused: false,
  getVoices() {
    return this.voices;
  },
  speak(utterance) {
    this.said.push({ text: utterance.text, lang: utterance.lang, voice: utterance.voice?.name ?? null });
    this.queue.push(utterance);
    if (!this.busy) this.next();
  },
  next() {
    const utterance = this.queue.shift();
    this.busy = Boolean(utterance);
    if (utterance) setTimeout(() => (utterance.onend?.(), this.next()), 5);
  },
  cancel() {
    this.cancels += 1;
  },
  resume() {},
};
const vibrations = [];
globalThis.navigator ??= {};
globalThis.navigator.vibrate = (pattern) => vibrations.push(pattern);
globalThis.speechSynthesis = engine;
globalThis.SpeechSynthesisUtterance = class {
  constructor(text) {
    Object.assign(this, { text, lang: "", voice: null });
  }
};
const { announce, soundUnlocked, speechSupport, unlockSound, whenUnlocked } = await import("../scripts/feedback.js");

const voice = (lang, name = lang, localService = true) => ({ lang, name, localService });

test("an Indonesian voice is chosen when the phone has one (Android may say in_ID)", () => {
  engine.voices = [voice("en-US"), voice("id-ID", "Google Bahasa Indonesia")];
  assert.equal(speechSupport("id"), "voice");
  engine.voices = [voice("en-US"), voice("in_ID")];
  assert.equal(speechSupport("id"), "voice");
  assert.equal(speechSupport("en"), "voice");
});

test("no voice of the language: beeps only; no list at all: the engine chooses by lang", () => {
  engine.voices = [voice("en-US"), voice("ms-MY")];
  assert.equal(speechSupport("id"), "none");
  engine.voices = [voice("id-ID")];
  assert.equal(speechSupport("en"), "none");
  engine.voices = [];
  assert.equal(speechSupport("id"), "engine");
});

test("sound waits for a tap, and the tap's greeting is spoken at once", async () => {
  assert.equal(soundUnlocked(), false);
  engine.voices = [voice("en-GB", "English"), voice("id-ID", "Indonesia")];
  unlockSound({ greeting: "Siap menerima pembayaran", language: "id" });
  await whenUnlocked();
  assert.equal(soundUnlocked(), true);
  assert.deepEqual(engine.said.at(-1), { text: "Siap menerima pembayaran", lang: "id-ID", voice: "Indonesia" });
});

test("payments announced together are said one after another, none cut off", async () => {
  engine.said.length = 0;
  vibrations.length = 0;
  const order = [];
  const first = announce("Diterima lima ribu rupiah dari Dewi", "id").then(() => order.push("first"));
  const second = announce("Diterima empat ribu rupiah dari Budi", "id").then(() => order.push("second"));
  const english = announce("Received one thousand rupiah from Ani", "en").then(() => order.push("english"));
  await Promise.all([first, second, english]);
  assert.deepEqual(order, ["first", "second", "english"]);
  assert.deepEqual(
    engine.said.map(({ text, lang, voice }) => [text, lang, voice]),
    [
      ["Diterima lima ribu rupiah dari Dewi", "id-ID", "Indonesia"],
      ["Diterima empat ribu rupiah dari Budi", "id-ID", "Indonesia"],
      ["Received one thousand rupiah from Ani", "en-GB", "English"],
    ],
  );
  assert.equal(vibrations.length, 3, "a buzz for every payment");
  assert.equal(engine.cancels, 0);
});

test("without a voice of the language a payment still buzzes, and nothing is spoken", async () => {
  engine.said.length = 0;
  vibrations.length = 0;
  engine.voices = [voice("en-US")];
  await announce("Diterima lima ribu rupiah dari Dewi", "id");
  assert.deepEqual(engine.said, []);
  assert.equal(vibrations.length, 1);
});

test("an engine that never ends an utterance does not hold the next one for ever", async () => {
  engine.voices = [voice("id-ID")];
  const speak = engine.speak;
  engine.speak = function (utterance) {
    this.said.push({ text: utterance.text }); // and never onend
  };
  const started = Date.now();
  await announce("x", "id");
  engine.speak = speak;
  assert.ok(Date.now() - started < 6000);
});
