/*
 * test-prompt.c: prompt templates, the choice-letter tokens, truncation, and the refusal of a
 * tokenizer that merges the answer letter into the prompt.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "text/prompt.h"

static lr_example example(const char *q) {
  lr_example ex = {0};
  ex.id = "ex-1";
  ex.question = q;
  ex.choices[0] = "a dog";
  ex.choices[1] = "a cat";
  ex.choices[2] = "a fish";
  ex.n_choices = 3;
  ex.label = 1;
  ex.file = "test.jsonl";
  ex.line = 7;
  return ex;
}

static void test_text(void) {
  const lr_template *sel, *qa, *none;
  lr_example ex = example("Which animal barks?");
  lr_err err;
  lr_err_init(&err);
  tap_is_int(lr_template_find("select", &sel, &err), LR_OK, "template 'select' exists");
  tap_is_int(lr_template_find("qa", &qa, &err), LR_OK, "template 'qa' exists");
  char *t = lr_prompt_text(sel, &ex, 0);
  tap_is_str(t, "Select one of the choices that answers the following question: Which animal "
                "barks? Choices: A. a dog B. a cat C. a fish Answer:", "the one-line form");
  free(t);
  t = lr_prompt_text(qa, &ex, 0);
  tap_is_str(t, "Question: Which animal barks?\nChoices:\nA) a dog\nB) a cat\nC) a fish\nAnswer:",
             "the multi-line form");
  free(t);
  t = lr_prompt_text(qa, &ex, 6);
  tap_like(t, "Question: animal barks?", "skipping bytes drops the start of the question only");
  free(t);
  const lr_template *cloze;
  char letter[2];
  tap_is_int(lr_template_find("cloze", &cloze, &err), LR_OK, "template 'cloze' exists");
  t = lr_prompt_text(cloze, &ex, 0);
  tap_is_str(t, "Which animal barks? Answer:", "the cloze form lists no choices");
  free(t);
  tap_ok(lr_template_is_cloze(cloze) && !lr_template_is_cloze(sel), "only cloze is cloze");
  tap_is_str(lr_prompt_answer(sel, &ex, 1, letter), "B", "a letter template answers with the letter");
  tap_is_str(lr_prompt_answer(cloze, &ex, 1, letter), "a cat", "cloze answers with the text");
  tap_is_int(lr_template_find("slect", &none, &err), LR_EINVAL, "an unknown template is refused");
  tap_like(err.msg, "(did you mean 'select'?)", "with a suggestion");
}

static void test_letters(const char *shared, const char *name, const char *want_piece, int bos) {
  char path[1024];
  lr_tokenizer *tok = NULL;
  lr_prompt p;
  lr_prompt_opts o = {NULL, bos, 0, 0};
  lr_example ex = example("Which animal barks?");
  lr_err err;
  lr_err_init(&err);
  snprintf(path, sizeof path, "%s/tokenizers/%s/tokenizer.json", shared, name);
  if (lr_tokenizer_load(path, &tok, &err) != LR_OK) {
    tap_skip(err.msg, "%s: choice tokens", name);
    return;
  }
  lr_template_find("select", &o.tmpl, &err);
  lr_prompt_init(&p);
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_OK, "%s: the prompt builds", name);
  tap_ok(p.single, "%s: every choice letter is one token", name);
  tap_is_str(lr_tokenizer_piece(tok, p.choice_ids[1]), want_piece, "%s: B is scored as %s", name,
             want_piece);
  tap_ok(!bos || p.ids.v[0] == lr_tokenizer_bos(tok), "%s: BOS first when asked", name);
  /* Truncation: a long question loses its first words, never the choices. */
  char *long_q = malloc(4000), *text;
  size_t full;
  long_q[0] = '\0';
  for (int i = 0; i < 120; i++)
    strcat(long_q, i ? " word" : "first");
  strcat(long_q, " final?");
  ex.question = long_q;
  lr_prompt_build(tok, &o, &ex, &p, &err);
  full = p.ids.n;
  o.max_len = full / 2;
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_OK, "%s: a long prompt is truncated", name);
  tap_ok(p.ids.n <= o.max_len && p.ids.n + 8 > o.max_len, "%s: to fit max_len (%zu of %zu)", name,
         p.ids.n, o.max_len);
  text = lr_prompt_text(o.tmpl, &ex, p.dropped_chars);
  tap_ok(strstr(text, "final? Choices: A. a dog B. a cat C. a fish Answer:") != NULL &&
         strstr(text, "first") == NULL, "%s: from the left of the question; the choices stay", name);
  free(text);
  o.max_len = 5;
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_EINVAL, "%s: choices that cannot fit are an error", name);
  tap_like(err.msg, "example 'ex-1': the prompt needs", "%s: naming the example", name);
  tap_is_int(err.line, 7, "%s: and its line", name);
  free(long_q);
  /* cloze: each choice is scored by the tokens of " " + its text. */
  {
    lr_prompt_opts co = {NULL, bos, 0, 0};
    lr_ids want;
    lr_template_find("cloze", &co.tmpl, &err);
    ex.question = "Which animal barks?";
    lr_ids_init(&want);
    lr_tokenizer_encode(tok, " a cat", 6, 0, &want, &err);
    tap_is_int(lr_prompt_build(tok, &co, &ex, &p, &err), LR_OK, "%s: a cloze prompt builds", name);
    if (strcmp(name, "gpt2") == 0) { /* byte-level: " a cat" encodes alike alone and after */
      tap_ok(p.cont[1].n == want.n &&
                 memcmp(p.cont[1].v, want.v, want.n * sizeof *want.v) == 0,
             "%s: choice B is scored by the tokens of ' a cat' (%zu tokens)", name, p.cont[1].n);
    } else {
      char *dec = NULL;
      lr_tokenizer_decode(tok, p.cont[1].v, p.cont[1].n, &dec, &err);
      tap_ok(dec && strstr(dec, "a cat") != NULL, "%s: choice B is scored by its text ('%s')",
             name, dec ? dec : "");
      free(dec);
    }
    lr_ids_release(&want);
  }
  lr_prompt_release(&p);
  lr_tokenizer_free(tok);
}

/* A BPE whose merges join ":" with " A": appending the letter changes the prompt's last token. */
static void test_merging_tokenizer(void) {
  static const char json[] =
      "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":null,"
      "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"BPE\",\"dropout\":null,"
      "\"unk_token\":\"?\",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,"
      "\"fuse_unk\":false,\"byte_fallback\":false,\"vocab\":{\"?\":0,\":\":1,\" \":2,\"A\":3,"
      "\"B\":4,\"C\":5,\": \":6,\": A\":7},\"merges\":[[\":\",\" \"],[\": \",\"A\"]]}}";
  lr_tokenizer *tok = NULL;
  lr_prompt p;
  lr_example ex = example("q");
  lr_prompt_opts o = {NULL, false, 0, 0};
  lr_err err;
  lr_err_init(&err);
  lr_template_find("select", &o.tmpl, &err);
  if (lr_tokenizer_load_buffer(json, sizeof json - 1, "merging.json", &tok, &err) != LR_OK) {
    tap_diag("%s", err.msg);
    tap_ok(0, "the merging tokenizer loads");
    return;
  }
  lr_prompt_init(&p);
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_EINVAL,
             "a tokenizer that merges the letter into the prompt is refused");
  tap_ok(p.unscorable && lr_prompt_bad(&p),
         "as an example that cannot be scored, reported with the others");
  tap_like(err.msg, "merges the answer ' A' with the end of the prompt", "and says so");
  lr_prompt_release(&p);
  lr_tokenizer_free(tok);
}

/*
 * The model's context, with a tokenizer of one token per character (tests/data/predict): the
 * select prompt of example("q") without BOS takes 100 tokens, its continuations " A" ... two
 * each, so the question's every character counts exactly.
 */
static void test_context(const char *top) {
  char path[1024];
  lr_tokenizer *tok = NULL;
  lr_prompt p;
  lr_prompt_opts o = {NULL, false, 0, 0};
  lr_example ex = example("Which animal barks at night?");
  lr_prompt_report rep;
  lr_err err;
  size_t full, bare;
  char *text;
  lr_err_init(&err);
  snprintf(path, sizeof path, "%s/tests/data/predict/char96-tokenizer.json", top);
  if (lr_tokenizer_load(path, &tok, &err) != LR_OK) {
    tap_diag("%s", err.msg);
    tap_ok(0, "the char96 tokenizer loads");
    return;
  }
  lr_template_find("select", &o.tmpl, &err);
  lr_prompt_init(&p);
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_OK, "context 0: no limit");
  full = lr_prompt_tokens(&p);
  tap_is_int((long long)full, (long long)p.ids.n + 2, "prompt and its longest continuation");
  bare = full - strlen(ex.question);
  o.context = full;
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_OK, "a prompt that fits exactly");
  tap_ok(!p.context_cut && p.dropped_chars == 0 && lr_prompt_tokens(&p) == full, "is kept whole");

  o.context = full - 6;
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_OK,
             "6 tokens over the context: the question is cut");
  tap_ok(p.context_cut && lr_prompt_tokens(&p) <= o.context, "to fit it (%zu of %zu)",
         lr_prompt_tokens(&p), o.context);
  text = lr_prompt_text(o.tmpl, &ex, p.dropped_chars);
  tap_like(text, "question: animal barks at night? Choices: A. a dog B. a cat C. a fish Answer:",
           "by its first word, 'Which ' (6 tokens); the choices stay");
  free(text);
  o.max_len = full - 20;
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_OK, "max_len below the context");
  tap_ok(p.ids.n <= o.max_len && !p.context_cut, "governs (%zu prompt tokens)", p.ids.n);
  o.max_len = 0;

  o.context = bare - 1;
  lr_err_init(&err);
  tap_is_int(lr_prompt_build(tok, &o, &ex, &p, &err), LR_EINVAL,
             "without its question it is still one token over: an error");
  tap_is_int((long long)p.misfit, (long long)bare, "misfit holds the tokens it needs");
  tap_is_str(err.file, "test.jsonl", "naming the file");
  tap_is_int(err.line, 7, "and the line");
  char want[1024];
  snprintf(want, sizeof want, "example 'ex-1': prompt and choice take %zu tokens without the "
           "question, the model's context is %zu", bare, bare - 1);
  tap_is_str(err.msg, want, "the message");

  /* Many that do not fit: one error names them all. */
  lr_prompt_report_init(&rep);
  tap_is_int(lr_prompt_report_check(&rep, &err), LR_OK, "an empty report is no error");
  for (int i = 0; i < 9; i++) {
    static const char *const ids[] = {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"};
    lr_err e;
    lr_err_init(&e);
    ex.id = ids[i];
    ex.line = 10 + i;
    ex.question = i == 4 ? "fits" : "Which animal barks at night?";
    o.context = i == 4 ? bare + 4 : i == 5 ? full - 1 : bare - 1;
    lr_prompt_build(tok, &o, &ex, &p, &e);
    lr_prompt_report_add(&rep, &ex, &p, &e);
  }
  tap_is_int((long long)rep.n_misfit, 7, "7 of 9 do not fit");
  tap_is_int((long long)rep.n_cut, 1, "one was cut to fit");
  lr_err_init(&err);
  tap_is_int(lr_prompt_report_check(&rep, &err), LR_EINVAL, "the report is an error");
  tap_is_int(err.line, 10, "at the first");
  snprintf(want, sizeof want, "example 'a1': prompt and choice take %zu tokens without the "
           "question, the model's context is %zu; 7 examples do not fit, also test.jsonl:11 'a2' "
           "(%zu tokens), test.jsonl:12 'a3' (%zu tokens), test.jsonl:13 'a4' (%zu tokens), "
           "test.jsonl:16 'a7' (%zu tokens), test.jsonl:17 'a8' (%zu tokens) and 1 more",
           bare, bare - 1, bare, bare, bare, bare, bare);
  tap_is_str(err.msg, want, "listing the next five by place and counting the rest");

  /* One that cannot be scored joins them, under its own reason. */
  {
    lr_prompt bad;
    lr_err e;
    lr_prompt_init(&bad);
    bad.unscorable = true;
    lr_err_init(&e);
    ex.id = "m1";
    ex.line = 30;
    lr_prompt_report_add(&rep, &ex, &bad, &e);
    lr_prompt_release(&bad);
  }
  lr_err_init(&err);
  lr_prompt_report_check(&rep, &err);
  tap_ok(rep.n_misfit == 8 && rep.n_unscorable == 1 &&
             strstr(err.msg, "; 8 examples cannot be scored, also") != NULL,
         "an example that cannot be scored is counted with them (%s)", err.msg);
  lr_prompt_release(&p);
  lr_tokenizer_free(tok);
}

int main(void) {
  const char *top = getenv("TOP_SRCDIR");
  char shared[1024];
  snprintf(shared, sizeof shared, "%s/../shared", top ? top : ".");
  test_text();
  test_context(top ? top : ".");
  test_letters(shared, "gpt2", "\xc4\xa0" "B", 0);
  test_letters(shared, "llama2", "\xe2\x96\x81" "B", 1);
  test_merging_tokenizer();
  return tap_done();
}
