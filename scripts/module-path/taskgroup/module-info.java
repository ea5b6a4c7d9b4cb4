module io.ctx4j.smoke.taskgroup {
  requires io.ctx4j.taskgroup;
}
