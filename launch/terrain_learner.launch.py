"""Starts the terrain_learner node with params.yaml next to this file.

    ros2 launch terrain_learner terrain_learner.launch.py image_topic:=/front_camera/image_raw imu_topic:=/imu

The topic arguments set the node's input-topic parameters (topics.*), so the same names work in a
params file and for bag replay; a topic argument left out keeps the topic params_file sets. Needs
`npm ci` in the terrain-learner checkout, then `colcon build` (see docs/ros2.md). Same arguments as
terrain_learner.launch.xml. rviz:=true also starts RViz (rviz2, an optional package: not needed on
a headless robot) with terrain_learner.rviz next to this file.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

HERE = os.path.dirname(os.path.abspath(__file__))

# Seconds between the SIGINT ros2 launch sends at shutdown and its SIGTERM, which cuts the node's stop
# short (launch's default is 5): the stop waits up to mqtt.close_timeout (5 s) for the MQTT broker and
# as long again for the fleet's. Also the default of the launch argument of the same name.
SIGTERM_TIMEOUT = "15"

# (launch argument, parameter, default, description). Empty (the default): the topic params_file sets,
# as the node takes an empty topics.* value for no value. value_type=str: launch_ros reads an untyped
# value as YAML, where the empty string is None, which it refuses (TypeError) before the node starts.
TOPICS = [
    ("image_topic", "topics.image", "", "sensor_msgs/Image input"),
    (
        "compressed_image_topic",
        "topics.compressed_image",
        "",
        "sensor_msgs/CompressedImage input with ros.image_transport: compressed",
    ),
    ("camera_info_topic", "topics.camera_info", "", "sensor_msgs/CameraInfo input"),
    ("imu_topic", "topics.imu", "", "sensor_msgs/Imu input"),
    ("odom_topic", "topics.odom", "", "nav_msgs/Odometry input"),
]


def generate_launch_description():
    args = [
        DeclareLaunchArgument(
            "params_file",
            default_value=os.path.join(HERE, "params.yaml"),
            description="ROS 2 params file for terrain_learner",
        ),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node (e.g. robot1)"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag playback, simulation)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start rviz2 with terrain_learner.rviz"),
        DeclareLaunchArgument(
            "sigterm_timeout",
            default_value=SIGTERM_TIMEOUT,
            description="seconds the node gets to stop after SIGINT (checkpoint, MQTT) before SIGTERM",
        ),
    ]
    overrides = {"use_sim_time": LaunchConfiguration("use_sim_time")}
    for argument, parameter, default, description in TOPICS:
        args.append(DeclareLaunchArgument(argument, default_value=default, description=f"{description} ({parameter}; empty: as params_file sets it)"))
        overrides[parameter] = ParameterValue(LaunchConfiguration(argument), value_type=str)
    node = Node(
        package="terrain_learner",
        executable="terrain_learner",
        name="terrain_learner",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[LaunchConfiguration("params_file"), overrides],
        # With a default: launch evaluates it at shutdown, where an including file's scope may be gone.
        sigterm_timeout=LaunchConfiguration("sigterm_timeout", default=SIGTERM_TIMEOUT),
    )
    # In the node's namespace, where the config's relative topic names are the node's ~/ topics.
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        arguments=["-d", os.path.join(HERE, "terrain_learner.rviz")],
        parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription(args + [node, rviz])
