//! Building argv vectors for Spark (`spark-submit`) and Hadoop MapReduce
//! (`hadoop jar`) jobs.
//!
//! Pure functions, no I/O. The vectors are meant to be passed to a process
//! spawner directly (no shell), so every value is one argument verbatim:
//! spaces, quotes and `$` in values need no escaping. [`display`] renders an
//! argv as a shell-quoted line for logs only.
//!
//! An option given as `Some(value)` always appears, even when `value` is
//! empty; only `None` leaves it out.

use std::collections::BTreeMap;

/// One `spark-submit` invocation.
#[derive(Debug, Clone, Copy)]
pub struct SparkJob<'a> {
    /// The application jar or `.py` file.
    pub main: &'a str,
    pub main_class: Option<&'a str>,
    pub master: Option<&'a str>,
    /// `"client"` or `"cluster"`; passed through as given.
    pub deploy_mode: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub driver_cores: Option<u32>,
    pub driver_memory: Option<&'a str>,
    pub num_executors: Option<u32>,
    pub executor_cores: Option<u32>,
    pub executor_memory: Option<&'a str>,
    pub queue: Option<&'a str>,
    /// Emitted as `--conf k=v`, in key order.
    pub conf: &'a BTreeMap<String, String>,
    /// Application arguments, after the main file.
    pub args: &'a [String],
}

impl<'a> SparkJob<'a> {
    /// A job with only the main file, conf and args; every option unset.
    pub fn new(main: &'a str, conf: &'a BTreeMap<String, String>, args: &'a [String]) -> Self {
        SparkJob {
            main,
            main_class: None,
            master: None,
            deploy_mode: None,
            app_name: None,
            driver_cores: None,
            driver_memory: None,
            num_executors: None,
            executor_cores: None,
            executor_memory: None,
            queue: None,
            conf,
            args,
        }
    }
}

/// One `hadoop jar` invocation.
#[derive(Debug, Clone, Copy)]
pub struct MrJob<'a> {
    pub jar: &'a str,
    /// When `None`, the jar manifest's `Main-Class` is used by Hadoop.
    pub main_class: Option<&'a str>,
    /// Emitted as `-D mapreduce.job.name=N`.
    pub app_name: Option<&'a str>,
    /// Emitted as `-D mapreduce.job.queuename=Q`.
    pub queue: Option<&'a str>,
    /// Emitted as `-D k=v`, in key order, after the name and queue (so a
    /// conf entry for the same key wins, as Hadoop keeps the last `-D`).
    pub conf: &'a BTreeMap<String, String>,
    /// Application arguments, after the generic options.
    pub args: &'a [String],
}

impl<'a> MrJob<'a> {
    /// A job with only the jar, conf and args; every option unset.
    pub fn new(jar: &'a str, conf: &'a BTreeMap<String, String>, args: &'a [String]) -> Self {
        MrJob {
            jar,
            main_class: None,
            app_name: None,
            queue: None,
            conf,
            args,
        }
    }
}

/// The program to run: `$home/bin/<name>` when `home` (SPARK_HOME /
/// HADOOP_HOME) is set and non-empty, else `<name>` (found on PATH).
/// Trailing slashes of `home` are dropped (`/opt/spark/` → `/opt/spark/bin/x`;
/// `/` → `/bin/x`).
pub fn program(home: Option<&str>, name: &str) -> String {
    match home {
        Some(h) if !h.is_empty() => {
            let trimmed = h.trim_end_matches('/');
            format!("{trimmed}/bin/{name}")
        }
        _ => name.to_string(),
    }
}

fn push_opt(argv: &mut Vec<String>, flag: &str, value: Option<&str>) {
    if let Some(v) = value {
        argv.push(flag.to_string());
        argv.push(v.to_string());
    }
}

fn push_num(argv: &mut Vec<String>, flag: &str, value: Option<u32>) {
    if let Some(n) = value {
        argv.push(flag.to_string());
        argv.push(n.to_string());
    }
}

/// The argv of `spark-submit` for `job`; `argv[0]` is the program.
///
/// Order: program, `--master`, `--deploy-mode`, `--class`, `--name`,
/// `--driver-cores`, `--driver-memory`, `--num-executors`,
/// `--executor-cores`, `--executor-memory`, `--queue`, `--conf k=v` per conf
/// entry (sorted by key), the main file, then the args.
pub fn spark_submit(job: &SparkJob, spark_home: Option<&str>) -> Vec<String> {
    let mut argv = vec![program(spark_home, "spark-submit")];
    push_opt(&mut argv, "--master", job.master);
    push_opt(&mut argv, "--deploy-mode", job.deploy_mode);
    push_opt(&mut argv, "--class", job.main_class);
    push_opt(&mut argv, "--name", job.app_name);
    push_num(&mut argv, "--driver-cores", job.driver_cores);
    push_opt(&mut argv, "--driver-memory", job.driver_memory);
    push_num(&mut argv, "--num-executors", job.num_executors);
    push_num(&mut argv, "--executor-cores", job.executor_cores);
    push_opt(&mut argv, "--executor-memory", job.executor_memory);
    push_opt(&mut argv, "--queue", job.queue);
    for (k, v) in job.conf {
        argv.push("--conf".to_string());
        argv.push(format!("{k}={v}"));
    }
    argv.push(job.main.to_string());
    argv.extend(job.args.iter().cloned());
    argv
}

/// The argv of `hadoop jar` for `job`; `argv[0]` is the program.
///
/// Order: program, `jar`, the jar, the main class (if set),
/// `-D mapreduce.job.name=N`, `-D mapreduce.job.queuename=Q`, `-D k=v` per
/// conf entry (sorted by key), then the args. The generic `-D` options come
/// after the main class and before the app args, where Hadoop's
/// GenericOptionsParser (ToolRunner) looks for them.
pub fn hadoop_jar(job: &MrJob, hadoop_home: Option<&str>) -> Vec<String> {
    let mut argv = vec![
        program(hadoop_home, "hadoop"),
        "jar".to_string(),
        job.jar.to_string(),
    ];
    if let Some(c) = job.main_class {
        argv.push(c.to_string());
    }
    let mut define = |k: &str, v: &str| {
        argv.push("-D".to_string());
        argv.push(format!("{k}={v}"));
    };
    if let Some(n) = job.app_name {
        define("mapreduce.job.name", n);
    }
    if let Some(q) = job.queue {
        define("mapreduce.job.queuename", q);
    }
    for (k, v) in job.conf {
        define(k, v);
    }
    argv.extend(job.args.iter().cloned());
    argv
}

/// Characters that never need quoting in a POSIX shell word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '-' | '.' | '/' | ',' | ':' | '=' | '+' | '@' | '%')
}

/// One argument, quoted for a POSIX shell where needed.
fn quote(arg: &str, first: bool) -> String {
    // `NAME=value` as the first word would be read as an assignment.
    let plain = !arg.is_empty() && arg.chars().all(is_plain) && !(first && arg.contains('='));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A shell-quoted rendering of argv for logs (single quotes where needed):
/// plain words as is, `''` for an empty argument, `it's` as `'it'\''s'`.
pub fn display(argv: &[String]) -> String {
    argv.iter()
        .enumerate()
        .map(|(i, a)| quote(a, i == 0))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn no_conf() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    // ---- program ----

    #[test]
    fn program_on_path_when_home_unset_or_empty() {
        assert_eq!(program(None, "spark-submit"), "spark-submit");
        assert_eq!(program(Some(""), "hadoop"), "hadoop");
    }

    #[test]
    fn program_under_home() {
        assert_eq!(
            program(Some("/opt/spark"), "spark-submit"),
            "/opt/spark/bin/spark-submit"
        );
        assert_eq!(
            program(Some("/opt/spark/"), "spark-submit"),
            "/opt/spark/bin/spark-submit"
        );
        assert_eq!(
            program(Some("/opt/spark//"), "spark-submit"),
            "/opt/spark/bin/spark-submit"
        );
        assert_eq!(program(Some("/"), "hadoop"), "/bin/hadoop");
        assert_eq!(
            program(Some("rel/hadoop"), "hadoop"),
            "rel/hadoop/bin/hadoop"
        );
        assert_eq!(
            program(Some("/opt/my spark"), "spark-submit"),
            "/opt/my spark/bin/spark-submit"
        );
    }

    // ---- spark_submit ----

    #[test]
    fn spark_minimal() {
        let conf = no_conf();
        let job = SparkJob::new("app.jar", &conf, &[]);
        assert_eq!(spark_submit(&job, None), s(&["spark-submit", "app.jar"]));
        assert_eq!(
            spark_submit(&job, Some("/opt/spark/")),
            s(&["/opt/spark/bin/spark-submit", "app.jar"])
        );
    }

    #[test]
    fn spark_python_main_with_args() {
        let conf = no_conf();
        let args = s(&["--in", "a b", "it's \"x\"", "$HOME", ""]);
        let job = SparkJob::new("job.py", &conf, &args);
        assert_eq!(
            spark_submit(&job, None),
            s(&[
                "spark-submit",
                "job.py",
                "--in",
                "a b",
                "it's \"x\"",
                "$HOME",
                ""
            ])
        );
    }

    #[test]
    fn spark_each_option_alone() {
        let conf = no_conf();
        let base = SparkJob::new("m.jar", &conf, &[]);
        let cases: Vec<(SparkJob, &[&str])> = vec![
            (
                SparkJob {
                    master: Some("yarn"),
                    ..base
                },
                &["--master", "yarn"],
            ),
            (
                SparkJob {
                    deploy_mode: Some("cluster"),
                    ..base
                },
                &["--deploy-mode", "cluster"],
            ),
            (
                SparkJob {
                    main_class: Some("a.B"),
                    ..base
                },
                &["--class", "a.B"],
            ),
            (
                SparkJob {
                    app_name: Some("my app"),
                    ..base
                },
                &["--name", "my app"],
            ),
            (
                SparkJob {
                    driver_cores: Some(2),
                    ..base
                },
                &["--driver-cores", "2"],
            ),
            (
                SparkJob {
                    driver_memory: Some("4g"),
                    ..base
                },
                &["--driver-memory", "4g"],
            ),
            (
                SparkJob {
                    num_executors: Some(10),
                    ..base
                },
                &["--num-executors", "10"],
            ),
            (
                SparkJob {
                    executor_cores: Some(0),
                    ..base
                },
                &["--executor-cores", "0"],
            ),
            (
                SparkJob {
                    executor_memory: Some("8g"),
                    ..base
                },
                &["--executor-memory", "8g"],
            ),
            (
                SparkJob {
                    queue: Some("etl"),
                    ..base
                },
                &["--queue", "etl"],
            ),
        ];
        for (job, opt) in cases {
            let mut want = vec!["spark-submit"];
            want.extend_from_slice(opt);
            want.push("m.jar");
            assert_eq!(spark_submit(&job, None), s(&want), "option {opt:?}");
        }
    }

    #[test]
    fn spark_empty_value_still_set() {
        let conf = no_conf();
        let job = SparkJob {
            queue: Some(""),
            ..SparkJob::new("m.jar", &conf, &[])
        };
        assert_eq!(
            spark_submit(&job, None),
            s(&["spark-submit", "--queue", "", "m.jar"])
        );
    }

    #[test]
    fn spark_full_order() {
        let mut conf = BTreeMap::new();
        conf.insert("spark.z".to_string(), "last".to_string());
        conf.insert("spark.a".to_string(), "v with space".to_string());
        conf.insert("spark.m".to_string(), "x=y".to_string());
        let args = s(&["in", "out"]);
        let job = SparkJob {
            main: "hdfs:///app.jar",
            main_class: Some("com.x.Main"),
            master: Some("yarn"),
            deploy_mode: Some("client"),
            app_name: Some("nightly"),
            driver_cores: Some(1),
            driver_memory: Some("2g"),
            num_executors: Some(3),
            executor_cores: Some(4),
            executor_memory: Some("5g"),
            queue: Some("q"),
            conf: &conf,
            args: &args,
        };
        assert_eq!(
            spark_submit(&job, Some("/spark")),
            s(&[
                "/spark/bin/spark-submit",
                "--master",
                "yarn",
                "--deploy-mode",
                "client",
                "--class",
                "com.x.Main",
                "--name",
                "nightly",
                "--driver-cores",
                "1",
                "--driver-memory",
                "2g",
                "--num-executors",
                "3",
                "--executor-cores",
                "4",
                "--executor-memory",
                "5g",
                "--queue",
                "q",
                "--conf",
                "spark.a=v with space",
                "--conf",
                "spark.m=x=y",
                "--conf",
                "spark.z=last",
                "hdfs:///app.jar",
                "in",
                "out",
            ])
        );
    }

    #[test]
    fn spark_conf_sorted_and_before_main() {
        let mut conf = BTreeMap::new();
        conf.insert("b".to_string(), "2".to_string());
        conf.insert("a".to_string(), "1".to_string());
        conf.insert("empty".to_string(), String::new());
        let args = s(&["x"]);
        let job = SparkJob {
            master: Some("local[*]"),
            ..SparkJob::new("m.py", &conf, &args)
        };
        assert_eq!(
            spark_submit(&job, None),
            s(&[
                "spark-submit",
                "--master",
                "local[*]",
                "--conf",
                "a=1",
                "--conf",
                "b=2",
                "--conf",
                "empty=",
                "m.py",
                "x"
            ])
        );
    }

    // ---- hadoop_jar ----

    #[test]
    fn hadoop_minimal() {
        let conf = no_conf();
        let job = MrJob::new("wc.jar", &conf, &[]);
        assert_eq!(hadoop_jar(&job, None), s(&["hadoop", "jar", "wc.jar"]));
        assert_eq!(
            hadoop_jar(&job, Some("/opt/hadoop/")),
            s(&["/opt/hadoop/bin/hadoop", "jar", "wc.jar"])
        );
        assert_eq!(hadoop_jar(&job, Some("")), s(&["hadoop", "jar", "wc.jar"]));
    }

    #[test]
    fn hadoop_each_option_alone() {
        let conf = no_conf();
        let base = MrJob::new("wc.jar", &conf, &[]);
        assert_eq!(
            hadoop_jar(
                &MrJob {
                    main_class: Some("org.WordCount"),
                    ..base
                },
                None
            ),
            s(&["hadoop", "jar", "wc.jar", "org.WordCount"])
        );
        assert_eq!(
            hadoop_jar(
                &MrJob {
                    app_name: Some("word count"),
                    ..base
                },
                None
            ),
            s(&[
                "hadoop",
                "jar",
                "wc.jar",
                "-D",
                "mapreduce.job.name=word count"
            ])
        );
        assert_eq!(
            hadoop_jar(
                &MrJob {
                    queue: Some("etl"),
                    ..base
                },
                None
            ),
            s(&[
                "hadoop",
                "jar",
                "wc.jar",
                "-D",
                "mapreduce.job.queuename=etl"
            ])
        );
    }

    #[test]
    fn hadoop_full_order() {
        let mut conf = BTreeMap::new();
        conf.insert("mapreduce.map.memory.mb".to_string(), "2048".to_string());
        conf.insert("a.key".to_string(), "it's".to_string());
        let args = s(&["/in", "/out dir"]);
        let job = MrJob {
            jar: "/jars/wc.jar",
            main_class: Some("org.WordCount"),
            app_name: Some("wc"),
            queue: Some("default"),
            conf: &conf,
            args: &args,
        };
        assert_eq!(
            hadoop_jar(&job, Some("/hadoop")),
            s(&[
                "/hadoop/bin/hadoop",
                "jar",
                "/jars/wc.jar",
                "org.WordCount",
                "-D",
                "mapreduce.job.name=wc",
                "-D",
                "mapreduce.job.queuename=default",
                "-D",
                "a.key=it's",
                "-D",
                "mapreduce.map.memory.mb=2048",
                "/in",
                "/out dir",
            ])
        );
    }

    #[test]
    fn hadoop_no_main_class_generic_options_follow_jar() {
        let mut conf = BTreeMap::new();
        conf.insert("k".to_string(), "v".to_string());
        let args = s(&["arg"]);
        let job = MrJob {
            queue: Some("q"),
            ..MrJob::new("wc.jar", &conf, &args)
        };
        assert_eq!(
            hadoop_jar(&job, None),
            s(&[
                "hadoop",
                "jar",
                "wc.jar",
                "-D",
                "mapreduce.job.queuename=q",
                "-D",
                "k=v",
                "arg"
            ])
        );
    }

    #[test]
    fn hadoop_conf_after_name_so_conf_wins() {
        let mut conf = BTreeMap::new();
        conf.insert("mapreduce.job.name".to_string(), "from-conf".to_string());
        let job = MrJob {
            app_name: Some("from-name"),
            ..MrJob::new("j.jar", &conf, &[])
        };
        let argv = hadoop_jar(&job, None);
        let pos_name = argv
            .iter()
            .position(|a| a == "mapreduce.job.name=from-name")
            .unwrap();
        let pos_conf = argv
            .iter()
            .position(|a| a == "mapreduce.job.name=from-conf")
            .unwrap();
        assert!(pos_name < pos_conf);
    }

    // ---- display ----

    #[test]
    fn display_plain_words_unquoted() {
        assert_eq!(
            display(&s(&[
                "spark-submit",
                "--conf",
                "a.b=1",
                "/x/y.jar",
                "host:80",
                "a,b",
                "+1",
                "u@h",
                "50%"
            ])),
            "spark-submit --conf a.b=1 /x/y.jar host:80 a,b +1 u@h 50%"
        );
    }

    #[test]
    fn display_quotes_where_needed() {
        assert_eq!(display(&s(&["it's"])), r"'it'\''s'");
        assert_eq!(display(&s(&["echo", ""])), "echo ''");
        assert_eq!(display(&s(&["a b"])), "'a b'");
        assert_eq!(display(&s(&["x", "$HOME"])), "x '$HOME'");
        assert_eq!(display(&s(&["x", "\"q\""])), "x '\"q\"'");
        assert_eq!(display(&s(&["x", "local[*]"])), "x 'local[*]'");
        assert_eq!(
            display(&s(&["x", "a;b", "a|b", "a&b", "`c`", "~", "#c", "a\\b"])),
            r"x 'a;b' 'a|b' 'a&b' '`c`' '~' '#c' 'a\b'"
        );
        assert_eq!(
            display(&s(&["x", "line\nbreak", "tab\t"])),
            "x 'line\nbreak' 'tab\t'"
        );
        assert_eq!(display(&s(&["x", "''"])), r"x ''\'''\'''");
        assert_eq!(display(&s(&["x", "héllo"])), "x 'héllo'");
    }

    #[test]
    fn display_first_word_assignment_quoted() {
        assert_eq!(display(&s(&["A=b", "A=b"])), "'A=b' A=b");
    }

    #[test]
    fn display_empty_argv() {
        assert_eq!(display(&[]), "");
    }

    #[test]
    fn display_of_built_argv() {
        let mut conf = BTreeMap::new();
        conf.insert("spark.x".to_string(), "a b".to_string());
        let args = s(&["it's"]);
        let job = SparkJob {
            app_name: Some("my job"),
            ..SparkJob::new("app.py", &conf, &args)
        };
        assert_eq!(
            display(&spark_submit(&job, Some("/opt/spark"))),
            r"/opt/spark/bin/spark-submit --name 'my job' --conf 'spark.x=a b' app.py 'it'\''s'"
        );
    }
}
